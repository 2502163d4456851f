"""Celery tasks of the communications app: thin, take ids, call services (STYLE.md rule 5)."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.db import transaction

from cases.models import AuditEvent
from communications import services
from outbox.services import outbox_publish

# Five attempts of the task over about half a minute (backoff 2, 4, 8, 16 s, with jitter), then the
# e-mail is marked not delivered on the case.
EMAIL_MAX_RETRIES = 4


# Celery's Task is generic for the type checker only (celery-types); it cannot be subscripted at run time.
class _EmailTask(Task):  # type: ignore[type-arg]
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        delivery_id = kwargs.get("delivery_id", args[0] if args else None)
        if delivery_id is not None:
            services.delivery_mark_failed(delivery_id=delivery_id, error=f"{type(exc).__name__}: {exc}")


@shared_task(
    base=_EmailTask,
    autoretry_for=services.TRANSIENT_EMAIL_ERRORS,
    retry_backoff=2,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=EMAIL_MAX_RETRIES,
    acks_late=True,
    soft_time_limit=60,
    time_limit=90,
)
def email_deliver(delivery_id: int) -> bool:
    """Send one recorded e-mail; transient errors are retried with backoff, and after the last attempt the
    e-mail is marked not delivered and the case's timeline says so."""
    return services.delivery_send(delivery_id=delivery_id)


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def notify_case_event(audit_event_id: int) -> int:
    """Notify the people who follow this case event (portal and e-mail); returns the e-mails sent now.
    An e-mail that fails now is handed to ``email_deliver`` for its own retries."""
    event = (
        AuditEvent.objects.select_related(
            "case__organisation", "case__owner", "case__customer_contact", "actor"
        )
        .filter(pk=audit_event_id)
        .first()
    )
    if event is None or event.case is None:
        return 0
    sent, retry = services.notification_send(event=event)
    # Through the outbox: with the broker down now, a plain publish would lose the e-mail's retries.
    with transaction.atomic():
        for delivery_id in retry:
            outbox_publish(
                task="communications.tasks.email_deliver",
                args=[delivery_id],
                key=f"email_deliver:{delivery_id}",
                countdown=2,
            )
    return sent
