"""Sensible defaults for a fresh install: a Mon-Fri 09:00-18:00 calendar and targets per severity."""

import datetime

from django.conf import settings
from django.db import migrations

# Business minutes: first response, scope sent, customer update interval, resolution (9 h working day).
DEFAULT_TARGETS = {
    "critical": (60, 4 * 60, 4 * 60, 5 * 9 * 60),
    "high": (4 * 60, 9 * 60, 9 * 60, 10 * 9 * 60),
    "medium": (9 * 60, 2 * 9 * 60, 2 * 9 * 60, 20 * 9 * 60),
    "low": (2 * 9 * 60, 4 * 9 * 60, 5 * 9 * 60, 40 * 9 * 60),
}


def seed(apps, schema_editor):
    BusinessCalendar = apps.get_model("oversight", "BusinessCalendar")
    ServiceTarget = apps.get_model("oversight", "ServiceTarget")
    if not BusinessCalendar.objects.filter(organisation__isnull=True).exists():
        BusinessCalendar.objects.create(
            name="Default",
            time_zone=settings.TIME_ZONE,
            working_days=[0, 1, 2, 3, 4],
            day_start=datetime.time(9, 0),
            day_end=datetime.time(18, 0),
        )
    for severity, (first, scope, update, resolution) in DEFAULT_TARGETS.items():
        ServiceTarget.objects.get_or_create(
            organisation=None,
            severity=severity,
            defaults={
                "first_response_minutes": first,
                "scope_minutes": scope,
                "update_minutes": update,
                "resolution_minutes": resolution,
                "warning_percent": 80,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("oversight", "ServiceTarget").objects.filter(organisation__isnull=True).delete()
    apps.get_model("oversight", "BusinessCalendar").objects.filter(organisation__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("oversight", "0001_service_levels_review")]

    operations = [migrations.RunPython(seed, unseed)]
