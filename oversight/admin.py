"""Admin for service-level settings; saves run the model validation (no zero target, working hours)."""

from __future__ import annotations

from django.contrib import admin

from oversight.models import (
    BusinessCalendar,
    CaseClock,
    ClockNotification,
    Holiday,
    ServiceTarget,
    SummaryReview,
)


class HolidayInline(admin.TabularInline[Holiday, BusinessCalendar]):
    model = Holiday
    extra = 1


@admin.register(BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin[BusinessCalendar]):
    list_display = ("name", "organisation", "time_zone", "day_start", "day_end")
    inlines = [HolidayInline]


@admin.register(ServiceTarget)
class ServiceTargetAdmin(admin.ModelAdmin[ServiceTarget]):
    list_display = (
        "organisation",
        "severity",
        "first_response_minutes",
        "scope_minutes",
        "update_minutes",
        "resolution_minutes",
        "warning_percent",
    )
    list_filter = ("severity", "organisation")


@admin.register(ClockNotification)
class ClockNotificationAdmin(admin.ModelAdmin[ClockNotification]):
    list_display = ("case", "clock", "kind", "created_at", "sent_at")
    list_filter = ("clock", "kind")
    readonly_fields = [f.name for f in ClockNotification._meta.fields]


@admin.register(CaseClock)
class CaseClockAdmin(admin.ModelAdmin[CaseClock]):
    list_display = (
        "case",
        "clock",
        "elapsed_minutes",
        "target_minutes",
        "due_at",
        "breached",
        "evaluated_at",
    )
    list_filter = ("clock", "breached")
    readonly_fields = [f.name for f in CaseClock._meta.fields]


@admin.register(SummaryReview)
class SummaryReviewAdmin(admin.ModelAdmin[SummaryReview]):
    list_display = ("summary", "decision", "reviewer", "created_at")
    list_filter = ("decision",)
    readonly_fields = [f.name for f in SummaryReview._meta.fields]
