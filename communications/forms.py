from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from communications.evidence import PRESET_CHOICES
from communications.models import NotificationKind
from uploads.models import Upload


class DocumentForm(forms.Form):
    subject = forms.CharField(max_length=250, label=_("Subject"))
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 28, "class": "doc-editor"}), label=_("Text"))


class EvidenceForm(forms.Form):
    preset = forms.ChoiceField(
        choices=[("", _("Write my own request"))] + PRESET_CHOICES,
        required=False,
        label=_("Ready-made request"),
    )
    label = forms.CharField(max_length=200, required=False, label=_("File needed"))
    instructions = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label=_("How to collect it")
    )
    kind = forms.ChoiceField(
        choices=[c for c in Upload.Kind.choices if c[0]],
        required=False,
        label=_("Upload type that fulfils it"),
    )
    filename_pattern = forms.CharField(
        max_length=100,
        required=False,
        label=_("File name pattern (optional)"),
        help_text=_("For example MEMORY*.DMP, when two requests ask for the same type of file."),
    )


class PreferencesForm(forms.Form):
    """Two switches per notification kind: e-mail and portal."""

    def __init__(self, *args: Any, current: dict[str, tuple[bool, bool]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows = []
        for kind, label in NotificationKind.choices:
            email, portal = current.get(kind, (True, True))
            self.fields[f"{kind}_email"] = forms.BooleanField(
                required=False, initial=email, label=_("E-mail")
            )
            self.fields[f"{kind}_portal"] = forms.BooleanField(
                required=False, initial=portal, label=_("In the portal")
            )
            self.rows.append((label, self[f"{kind}_email"], self[f"{kind}_portal"]))

    def choices(self) -> dict[str, tuple[bool, bool]]:
        return {
            kind: (self.cleaned_data[f"{kind}_email"], self.cleaned_data[f"{kind}_portal"])
            for kind in NotificationKind.values
        }
