"""Forms of the staff queue page."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation, User


class AttachForm(forms.Form):
    case_number = forms.CharField(label=_("Case number"), max_length=20)
    internal = forms.BooleanField(
        label=_("As an internal note (files stay in the original message)"), required=False
    )

    def clean_case_number(self) -> str:
        return str(self.cleaned_data["case_number"]).strip().upper()


class OpenCaseForm(forms.Form):
    organisation = forms.ModelChoiceField(label=_("Organisation"), queryset=Organisation.objects.all())
    title = forms.CharField(label=_("Title"), max_length=200)
    customer_contact = forms.ModelChoiceField(
        label=_("Customer contact"),
        queryset=User.objects.filter(role=User.Role.CUSTOMER, is_active=True).order_by("username"),
        required=False,
    )


class DiscardForm(forms.Form):
    note = forms.CharField(label=_("Why (optional)"), max_length=300, required=False)
