"""Case events recorded outside ``cases.services._audit`` that people are told about.

The pipeline writes its ``analysis_done`` audit row directly (analysis/services.job_complete); this
queues the same notification task ``_audit`` queues, after the commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
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
    from communications.tasks import notify_case_event

    event_id = instance.pk
    transaction.on_commit(lambda: notify_case_event.delay(event_id))
