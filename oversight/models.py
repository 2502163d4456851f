"""Service-level targets and calendars, clock snapshots and their notifications, summary reviews."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organisation
from cases.models import Case, CaseSummary, Severity


class Clock(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("First response")
    SCOPE = "scope", _("Scope sent")
    UPDATE = "update", _("Customer update")
    RESOLUTION = "resolution", _("Resolution")


WEEKDAYS = [
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
]


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(_("Unknown time zone: %(tz)s"), params={"tz": value}) from None


class BusinessCalendar(models.Model):
    """Working days and hours in a time zone; the default has no organisation, others override it."""

    name = models.CharField(_("name"), max_length=100)
    organisation = models.OneToOneField(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="business_calendar",
        verbose_name=_("organisation"),
        help_text=_("Empty: the default calendar."),
    )
    time_zone = models.CharField(_("time zone"), max_length=64, validators=[validate_time_zone])
    # Weekday numbers, Monday = 0 (datetime.weekday()).
    working_days = models.JSONField(_("working days"), default=list)
    day_start = models.TimeField(_("working day starts"))
    day_end = models.TimeField(_("working day ends"))

    class Meta:
        ordering = ["organisation__name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(organisation__isnull=True), name="oversight_one_default_calendar"
            ),
            models.CheckConstraint(
                condition=Q(day_end__gt=models.F("day_start")), name="oversight_day_has_hours"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        days = self.working_days if isinstance(self.working_days, list) else []
        if not days or any(not isinstance(day, int) or not 0 <= day <= 6 for day in days):
            raise ValidationError({"working_days": _("A calendar needs at least one working day.")})
        if self.day_start is not None and self.day_end is not None and self.day_end <= self.day_start:
            raise ValidationError({"day_end": _("A working day needs working hours: end after it starts.")})
        if self.organisation_id is None:
            others = BusinessCalendar.objects.filter(organisation__isnull=True).exclude(pk=self.pk)
            if others.exists():
                raise ValidationError({"organisation": _("There is already a default calendar.")})


class Holiday(models.Model):
    calendar = models.ForeignKey(BusinessCalendar, on_delete=models.CASCADE, related_name="holidays")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="oversight_holiday_unique")]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


_POSITIVE = [MinValueValidator(1, message=_("A target must be at least one minute."))]


class ServiceTarget(models.Model):
    """Targets in business minutes for one severity; a row with an organisation overrides the default."""

    organisation = models.ForeignKey(
        Organisation,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="service_targets",
        verbose_name=_("organisation"),
        help_text=_("Empty: the default for every organisation."),
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices)
    first_response_minutes = models.PositiveIntegerField(
        _("first response (business minutes)"), validators=_POSITIVE
    )
    scope_minutes = models.PositiveIntegerField(_("scope sent (business minutes)"), validators=_POSITIVE)
    update_minutes = models.PositiveIntegerField(
        _("customer update interval (business minutes)"), validators=_POSITIVE
    )
    resolution_minutes = models.PositiveIntegerField(_("resolution (business minutes)"), validators=_POSITIVE)
    warning_percent = models.PositiveSmallIntegerField(
        _("warn at (% of the target)"),
        default=80,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
    )

    class Meta:
        ordering = ["organisation__name", "severity"]
        constraints = [
            models.UniqueConstraint(
                fields=["severity"], condition=Q(organisation__isnull=True), name="oversight_default_target"
            ),
            models.UniqueConstraint(
                fields=["organisation", "severity"],
                condition=Q(organisation__isnull=False),
                name="oversight_organisation_target",
            ),
            models.CheckConstraint(
                condition=Q(first_response_minutes__gt=0)
                & Q(scope_minutes__gt=0)
                & Q(update_minutes__gt=0)
                & Q(resolution_minutes__gt=0),
                name="oversight_target_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organisation or _('Default')} · {self.get_severity_display()}"

    def minutes_for(self, clock: str) -> int:
        return int(getattr(self, f"{clock}_minutes"))


class CaseClock(models.Model):
    """The last evaluation of one clock of one case, written by the sweep: reports aggregate these."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="clocks")
    clock = models.CharField(max_length=20, choices=Clock.choices)
    target_minutes = models.PositiveIntegerField()
    elapsed_minutes = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    stopped_at = models.DateTimeField(null=True, blank=True, help_text=_("When the target was met."))
    due_at = models.DateTimeField(null=True, blank=True)
    breached = models.BooleanField(default=False)
    at_risk = models.BooleanField(default=False, help_text=_("Past the warning share of the target."))
    evaluated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "clock"], name="oversight_caseclock_unique")]
        indexes = [models.Index(fields=["clock", "breached"], name="oversight_clock_breached")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.clock}"


class ClockNotification(models.Model):
    """One row per warning or breach of a clock run: the unique key makes the e-mail go out once."""

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        BREACH = "breach", _("Breach")

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="clock_notifications")
    clock = models.CharField(max_length=20, choices=Clock.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # The update clock restarts with every customer update: each run is its own event.
    clock_started_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    recipients = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["case", "clock", "kind", "clock_started_at"], name="oversight_notification_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.clock} {self.kind}"


class SummaryReview(models.Model):
    """A manager's decision on one summary version; a returned summary is rewritten as a new version."""

    class Decision(models.TextChoices):
        APPROVED = "approved", _("Approved")
        RETURNED = "returned", _("Returned to the engineer")

    summary = models.OneToOneField(CaseSummary, on_delete=models.CASCADE, related_name="review")
    decision = models.CharField(_("decision"), max_length=10, choices=Decision.choices)
    comment = models.TextField(_("comment"), blank=True)
    problem_stated = models.BooleanField(_("problem stated"), default=False)
    evidence_cited = models.BooleanField(_("evidence cited"), default=False)
    resolution_clear = models.BooleanField(_("resolution clear"), default=False)
    confirmation_recorded = models.BooleanField(_("customer confirmation recorded"), default=False)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    CHECKLIST = ("problem_stated", "evidence_cited", "resolution_clear", "confirmation_recorded")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.decision} summary {self.summary_id}"
