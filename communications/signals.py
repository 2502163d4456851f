"""Case events recorded outside ``cases.services._audit`` that people are told about.

The pipeline writes its ``analysis_done`` audit row directly (analysis/services.job_complete); this
records the same outbox message ``_audit`` records, in the same transaction.
"""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from cases.models import AuditEvent

NOTIFIED_HERE = frozenset({"analysis_done"})


@receiver(post_save, sender=AuditEvent, dispatch_uid="communications_external_events")
def queue_external_event(
    sender: type[AuditEvent], instance: AuditEvent, created: bool, **kwargs: Any
) -> None:
    if not created or instance.case_id is None or instance.action not in NOTIFIED_HERE:
        return
    from outbox.services import outbox_publish

    outbox_publish(
        task="communications.tasks.notify_case_event",
        args=[instance.pk],
        key=f"notify_case_event:{instance.pk}",
    )
