"""The reconciler (beat, every minute): publish again the jobs whose message was lost, and end the lease
of running jobs no live worker is executing."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from analysis.models import AnalysisJob
from analysis.queueing import job_publish
from config.celery import app

logger = logging.getLogger(__name__)

# A queued job not started after this long probably lost its message (publish failed after commit).
QUEUED_GRACE = timedelta(minutes=2)


def jobs_reconcile(*, now: datetime | None = None) -> list[int]:
    """Publish again the jobs whose message was lost: queued and unpublished for over two minutes, or
    running past their lease (hard time limit + margin). Returns the job ids published."""
    now = now or timezone.now()
    stale_queued = Q(state=AnalysisJob.State.QUEUED) & (
        Q(published_at__lt=now - QUEUED_GRACE)
        | Q(published_at__isnull=True, queued_at__lt=now - QUEUED_GRACE)
    )
    orphaned = _orphaned_running_jobs(now)
    expired = Q(state=AnalysisJob.State.RUNNING, lease_expires_at__lt=now) | Q(pk__in=orphaned)
    jobs = list(AnalysisJob.objects.filter(stale_queued | expired).values_list("pk", "upload__size")[:500])
    published: list[int] = []
    for job_id, size in jobs:
        try:
            job_publish(job_id=job_id, size=size)
        except Exception:  # the broker is down: the next run tries again
            logger.exception("could not publish analysis job %s", job_id)
            break
        published.append(job_id)
    if published:
        logger.warning("reconciler published %d analysis jobs again: %s", len(published), published)
    return published


# A claim becomes visible in the workers' active lists a moment after the UPDATE: leave new claims alone.
ORPHAN_GRACE = timedelta(seconds=5)


def live_task_ids() -> set[str] | None:
    """Ids of the tasks the workers are executing now (a control broadcast, 1 s); ``None`` if none answer."""
    try:
        replies = app.control.inspect(timeout=1.0).active()
    except Exception:  # broker unreachable: cannot tell a dead worker from an unreachable one
        return None
    if not replies:
        return None
    return {task["id"] for tasks in replies.values() for task in tasks or ()}


def _orphaned_running_jobs(now: datetime) -> list[int]:
    # A worker killed as a whole leaves its jobs running until their lease ends (minutes on a big file),
    # and on Redis its messages come back only after the visibility timeout. When the workers answer and
    # none of them is executing a running job's message, that job is orphaned: end its lease now.
    running = list(
        AnalysisJob.objects.filter(
            state=AnalysisJob.State.RUNNING, lease_expires_at__gte=now, started_at__lt=now - ORPHAN_GRACE
        ).values_list("pk", "task_id")
    )
    if not running:
        return []
    live = live_task_ids()
    if live is None:
        return []
    orphaned: list[int] = []
    for job_id, task_id in running:
        if task_id not in live and AnalysisJob.objects.filter(
            pk=job_id, state=AnalysisJob.State.RUNNING, task_id=task_id
        ).update(lease_expires_at=now):
            orphaned.append(job_id)
    return orphaned
