"""Celery tasks of the cases app: thin, take ids, call services (STYLE.md rule 5)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from cases.models import AuditEvent
from cases.notifications import notification_send


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def notify_case_event(audit_event_id: int) -> int:
    """E-mail the people who follow this case event."""
    event = (
        AuditEvent.objects.select_related("case__organisation", "case__owner", "actor")
        .filter(pk=audit_event_id)
        .first()
    )
    if event is None:
        return 0
    return notification_send(event)
