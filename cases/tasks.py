"""Celery tasks of the cases app: thin, call services (STYLE.md rule 5)."""

from __future__ import annotations

from celery import shared_task

from cases import conversation


@shared_task(acks_late=True, soft_time_limit=240, time_limit=300)
def resolutions_sweep() -> dict[str, int]:
    """Remind customers of proposed resolutions near their deadline; close the cases past it (beat)."""
    result = conversation.resolutions_sweep()
    return {"reminded": result.reminded, "closed": result.closed}
