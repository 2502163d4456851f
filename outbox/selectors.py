"""Reads of the outbox: its backlog, for /healthz and the admin."""

from __future__ import annotations

from django.db.models import Count, Min
from django.utils import timezone

from outbox.models import OutboxMessage


def outbox_backlog() -> dict[str, object]:
    """Open and given-up messages by state, and the age of the oldest one not yet in the broker."""
    counts = dict(
        OutboxMessage.objects.exclude(state=OutboxMessage.State.DONE)
        .values("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    oldest = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).aggregate(at=Min("created_at"))[
        "at"
    ]
    pending = counts.get(OutboxMessage.State.PENDING, 0)
    return {
        "state": "ok"
        if not pending or oldest is None or (timezone.now() - oldest).total_seconds() < 60
        else "behind",
        "pending": pending,
        "in_flight": counts.get(OutboxMessage.State.DISPATCHED, 0)
        + counts.get(OutboxMessage.State.STARTED, 0),
        "failed": counts.get(OutboxMessage.State.FAILED, 0),
        "oldest_pending_seconds": round((timezone.now() - oldest).total_seconds(), 1) if oldest else None,
    }
