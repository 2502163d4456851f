"""Queueing analysis jobs: create the upload's job and publish its task after the commit, re-run, remove.

Tasks are published by name through the outbox (``outbox.services``), so this module never imports
``analysis.tasks``: the tasks import the services, never the reverse.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.capabilities import can_rerun_analysis
from accounts.models import User
from analysis.case_findings import case_findings_recompute
from analysis.models import AnalysisJob, Crash, Finding, LogEvent
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidState, NotAllowed
from cases.live import case_touch
from cases.models import Case
from cases.selectors import case_visible_to
from outbox.services import outbox_publish, task_send_now
from uploads.models import Upload

GIB = 1024**3
ANALYSE_TASK = "analysis.tasks.analyse_upload"
ANALYSABLE_UPLOAD_STATES = (Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED)


def job_time_limits(*, size: int) -> tuple[int, int]:
    """Soft and hard time limits (seconds) for a file of ``size`` bytes, capped by CELERY_TASK_TIME_LIMIT."""
    cap = settings.CELERY_TASK_TIME_LIMIT
    per_gb = settings.ANALYSIS_SOFT_TIME_LIMIT_PER_GB * max(size, 0) / GIB
    soft = min(int(settings.ANALYSIS_SOFT_TIME_LIMIT_BASE + per_gb), cap - 30)
    return max(soft, 1), min(soft + 30, cap)


def job_publish(*, job_id: int, size: int) -> None:
    """Publish the task message of a job now (call only outside a transaction or from on_commit)."""
    soft, hard = job_time_limits(size=size)
    AnalysisJob.objects.filter(pk=job_id).update(published_at=timezone.now())
    task_send_now(task=ANALYSE_TASK, args=[job_id], soft_time_limit=soft, time_limit=hard)


def _publish_on_commit(job: AnalysisJob, size: int) -> None:
    # An outbox row in the job's transaction, published after the commit (never before: the worker could
    # look for the job before it exists), or by the outbox dispatcher when the broker is down then.
    soft, hard = job_time_limits(size=size)
    outbox_publish(
        task=ANALYSE_TASK,
        args=[job.pk],
        key=f"analyse_upload:{job.pk}",
        soft_time_limit=soft,
        time_limit=hard,
    )


def job_queue_for_upload(*, upload: Upload, requested_by: User | None = None) -> AnalysisJob:
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
        case_touch(case_id=upload.case_id)
        _publish_on_commit(job, upload.size)
    return job


def job_rerun(*, actor: User, upload: Upload) -> AnalysisJob:
    """Analyse an upload again (staff): a new job whose outcome replaces the upload's current rows."""
    if not can_rerun_analysis(actor):
        raise NotAllowed(_("Only support engineers and managers can re-run an analysis."))
    if not case_visible_to(user=actor, case_id=upload.case_id):
        raise NotAllowed(_("You cannot act on this case."))
    with transaction.atomic():
        # Locked and read again: a withdrawal running now must not leave a job on a file it deletes.
        upload = (
            Upload.objects.select_for_update(of=("self",)).select_related("duplicate_of").get(pk=upload.pk)
        )
        _require_analysable(upload)
        job = job_queue_for_upload(upload=upload, requested_by=actor)
        audit_record(
            case=upload.case,
            actor=actor,
            action=AuditAction.ANALYSIS_RERUN,
            data={"upload": str(upload.pk), "filename": upload.filename, "job": job.pk},
        )
    return job


def _require_analysable(upload: Upload) -> None:
    if upload.state not in ANALYSABLE_UPLOAD_STATES or not upload.storage_name or upload.content_deleted_at:
        raise InvalidState(_("This upload has no stored file to analyse."))
    if upload.scan in {Upload.Scan.PENDING, Upload.Scan.INFECTED}:
        raise InvalidState(_("This file is held by the virus scan: it cannot be analysed until it is clean."))
    if upload.duplicate_of is not None:
        raise InvalidState(
            _("This file is the same as %(file)s: re-run the analysis of %(file)s instead.")
            % {"file": upload.duplicate_of.filename}
        )


def analysis_remove_for_uploads(*, case: Case, upload_ids: Iterable[object]) -> None:
    """These uploads left the case (withdrawn): their crashes, events and findings go with them and the
    case-level findings are recomputed without them. Call in a transaction holding the case row lock."""
    ids = list(upload_ids)
    Crash.objects.filter(upload_id__in=ids).delete()
    LogEvent.objects.filter(upload_id__in=ids).delete()
    Finding.objects.filter(upload_id__in=ids).delete()
    case_findings_recompute(case=case)
    case_touch(case_id=case.pk)
