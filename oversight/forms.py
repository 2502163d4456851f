from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation, User
from cases.models import ResolutionType
from oversight.models import WEEKDAYS, BusinessCalendar, ServiceTarget, SummaryReview
from oversight.selectors import ReviewState


class _Period(forms.Form):
    since = forms.DateField(required=False, label=_("From"), widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label=_("To"), widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("The period ends before it starts."))
        return data

    def value(self, name: str) -> object:
        """The cleaned value, or empty when the field (or the form) did not validate."""
        self.is_valid()
        return None if name in self.errors else getattr(self, "cleaned_data", {}).get(name)

    def text(self, name: str) -> str:
        """A text or choice field's cleaned value; empty when absent or invalid."""
        value = self.value(name)
        return str(value) if value else ""

    def day(self, name: str) -> dt.date | None:
        """A date field's cleaned value; None when absent or invalid."""
        value = self.value(name)
        return value if isinstance(value, dt.date) else None


class ReviewFilterForm(_Period):
    engineer = forms.ChoiceField(required=False, label=_("Engineer"))
    organisation = forms.ChoiceField(required=False, label=_("Organisation"))
    resolution_type = forms.ChoiceField(
        required=False,
        label=_("Resolution type"),
        choices=[("", _("Any resolution")), *ResolutionType.choices],
    )
    review_state = forms.ChoiceField(
        required=False,
        label=_("Review state"),
        choices=[
            ("", _("Any review state")),
            (ReviewState.PENDING, _("Waiting for review")),
            (ReviewState.APPROVED, _("Approved")),
            (ReviewState.RETURNED, _("Returned")),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        engineers = User.objects.filter(role__in=[User.Role.ENGINEER, User.Role.MANAGER]).order_by("username")
        cast(forms.ChoiceField, self.fields["engineer"]).choices = [
            ("", _("Any engineer")),
            *((u.username, str(u)) for u in engineers),
        ]
        cast(forms.ChoiceField, self.fields["organisation"]).choices = [
            ("", _("Any organisation")),
            *Organisation.objects.values_list("slug", "name"),
        ]


class ReviewDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", _("Approve")), ("return", _("Return to the engineer"))])
    comment = forms.CharField(
        required=False, label=_("Comment for the engineer"), widget=forms.Textarea(attrs={"rows": 3})
    )
    problem_stated = forms.BooleanField(required=False, label=_("Problem stated"))
    evidence_cited = forms.BooleanField(required=False, label=_("Evidence cited"))
    resolution_clear = forms.BooleanField(required=False, label=_("Resolution clear"))
    confirmation_recorded = forms.BooleanField(required=False, label=_("Customer confirmation recorded"))

    def checklist(self) -> dict[str, bool]:
        return {name: bool(self.cleaned_data.get(name)) for name in SummaryReview.CHECKLIST}


class SummaryRewriteForm(forms.Form):
    problem_description = forms.CharField(
        label=_("Problem description"), widget=forms.Textarea(attrs={"rows": 4})
    )
    analysis = forms.CharField(label=_("Analysis"), widget=forms.Textarea(attrs={"rows": 6}))
    resolution = forms.CharField(label=_("Resolution"), widget=forms.Textarea(attrs={"rows": 4}))
    resolution_type = forms.ChoiceField(label=_("Resolution type"), choices=ResolutionType.choices)


class ReportFilterForm(_Period):
    organisation = forms.ChoiceField(required=False, label=_("Organisation"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["organisation"]).choices = [
            ("", _("All organisations")),
            *Organisation.objects.values_list("slug", "name"),
        ]


class AuditFilterForm(_Period):
    case = forms.CharField(required=False, label=_("Case number"))
    user = forms.CharField(required=False, label=_("User name"))
    action = forms.CharField(required=False, label=_("Action"))


class ServiceTargetForm(forms.ModelForm[ServiceTarget]):
    class Meta:
        model = ServiceTarget
        fields = [
            "organisation",
            "severity",
            "first_response_minutes",
            "scope_minutes",
            "update_minutes",
            "resolution_minutes",
            "warning_percent",
        ]


class BusinessCalendarForm(forms.ModelForm[BusinessCalendar]):
    working_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple, label=_("Working days")
    )
    holidays = forms.CharField(
        required=False,
        label=_("Holidays"),
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("One a line: YYYY-MM-DD and a name."),
    )

    class Meta:
        model = BusinessCalendar
        fields = ["name", "organisation", "time_zone", "working_days", "day_start", "day_end"]
        widgets = {
            "day_start": forms.TimeInput(attrs={"type": "time"}),
            "day_end": forms.TimeInput(attrs={"type": "time"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["holidays"] = "\n".join(
                f"{h.date:%Y-%m-%d} {h.name}".strip() for h in self.instance.holidays.all()
            )

    def clean_holidays(self) -> list[tuple[dt.date, str]]:
        holidays: dict[dt.date, str] = {}
        for number, line in enumerate(self.cleaned_data.get("holidays", "").splitlines(), start=1):
            if not line.strip():
                continue
            day, _sep, name = line.strip().partition(" ")
            try:
                holidays[dt.date.fromisoformat(day)] = name.strip()[:100]
            except ValueError:
                raise forms.ValidationError(
                    _("Line %(n)d is not YYYY-MM-DD and a name."), params={"n": number}
                ) from None
        return sorted(holidays.items())
