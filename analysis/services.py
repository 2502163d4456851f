"""Writes of the analysis pipeline: queue a job, record its outcome, re-run it (STYLE.md rules 2, 4, 6).

The flow: ``job_queue_for_upload`` (inside the uploads side's completion transaction) -> the task
``analysis.tasks.analyse_upload`` after commit -> ``job_complete`` replaces the upload's rows.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from analysis.models import AnalysisJob
from uploads.models import Upload

GIB = 1024**3


def job_time_limits(*, size: int) -> tuple[int, int]:
    """Soft and hard time limits (seconds) for a file of ``size`` bytes, capped by CELERY_TASK_TIME_LIMIT."""
    cap = settings.CELERY_TASK_TIME_LIMIT
    soft = (
        settings.ANALYSIS_SOFT_TIME_LIMIT_BASE + settings.ANALYSIS_SOFT_TIME_LIMIT_PER_GB * max(size, 0) / GIB
    )
    soft = min(int(soft), cap - 30)
    return max(soft, 1), min(soft + 30, cap)


def _enqueue_on_commit(job: AnalysisJob) -> None:
    # Never publish inside the transaction: the worker could look for the job before it is committed.
    from analysis.tasks import analyse_upload

    soft, hard = job_time_limits(size=job.upload.size)
    job_id = job.pk
    transaction.on_commit(
        lambda: analyse_upload.apply_async(args=[job_id], soft_time_limit=soft, time_limit=hard)
    )


def job_queue_for_upload(*, upload: Upload, requested_by=None) -> AnalysisJob:
    """Create the upload's analysis job (``queued``) and queue the task after commit.

    Idempotent: when the upload already has a queued or running job, that job is returned.
    """
    _, hard = job_time_limits(size=upload.size)
    with transaction.atomic():
        active = AnalysisJob.objects.filter(upload=upload, state__in=AnalysisJob.ACTIVE_STATES).first()
        if active is not None:
            return active
        try:
            with transaction.atomic():  # savepoint: a concurrent creation loses to the partial unique index
                job = AnalysisJob.objects.create(
                    upload=upload,
                    state=AnalysisJob.State.QUEUED,
                    queued_at=timezone.now(),
                    time_limit=hard,
                    requested_by=requested_by,
                )
        except IntegrityError:
            return AnalysisJob.objects.get(upload=upload, state__in=AnalysisJob.ACTIVE_STATES)
        _enqueue_on_commit(job)
    return job
