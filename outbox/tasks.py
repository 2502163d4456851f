"""Celery tasks of the outbox: thin, call services (STYLE.md rule 5)."""

from __future__ import annotations

from celery import shared_task

from outbox import services


@shared_task(name="outbox.tasks.outbox_dispatch", soft_time_limit=50, time_limit=60)
def outbox_dispatch() -> int:
    """Beat, every OUTBOX_DISPATCH_INTERVAL seconds: publish what is pending (the broker was down, or the
    process that committed died before publishing) and again what the broker or a dead worker lost."""
    result = services.outbox_dispatch()
    return result.published + result.republished


@shared_task(name="outbox.tasks.outbox_purge", soft_time_limit=240, time_limit=300)
def outbox_purge() -> int:
    """Beat, hourly: forget messages done more than OUTBOX_KEEP_DAYS ago."""
    return services.outbox_purge()
