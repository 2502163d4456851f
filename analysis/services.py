"""The life of an analysis job on the worker: claim it, record its outcome or its failure, release it
after a transient error (STYLE.md 2, 4, 6).

The flow: ``analysis.queueing.job_queue_for_upload`` (inside the uploads side's completion transaction)
-> the task ``analysis.tasks.analyse_upload`` after commit -> ``job_start`` claims the job with a
conditional UPDATE -> the parsers and rules run outside any transaction -> ``job_complete`` replaces the
upload's rows in one short transaction and settles the case-level findings (analysis.case_findings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from analysis.case_findings import case_findings_settle
from analysis.models import AnalysisJob
from analysis.parsers import ENGINE_VERSION
from analysis.parsers import result as parsed
from analysis.queueing import ANALYSABLE_UPLOAD_STATES, job_time_limits
from analysis.rows import upload_rows_replace
from analysis.rules.outcomes import analysis_failed_finding, unsupported_type_findings
from cases.audit import AuditAction, audit_record
from cases.live import case_touch
from cases.models import Case
from uploads.models import Upload

# A running job whose hard time limit passed this long ago has certainly lost its worker.
LEASE_MARGIN = timedelta(seconds=30)

# Upload kinds (uploads.models.Upload.Kind) for each parser kind, set when the uploads side left it blank.
_UPLOAD_KIND = {
    "kernel_dump": Upload.Kind.KERNEL_DUMP,
    "user_dump": Upload.Kind.USER_DUMP,
    "evtx": Upload.Kind.EVTX,
    "windbg_text": Upload.Kind.TEXT_LOG,
    "linux_oops": Upload.Kind.TEXT_LOG,
    "archive": Upload.Kind.ARCHIVE,
    "unknown": Upload.Kind.OTHER,
}


@dataclass(frozen=True)
class JobClaim:
    job: AnalysisJob
    upload: Upload
    soft_time_limit: int


def job_start(*, job_id: int, task_id: str, worker: str) -> JobClaim | None:
    """Claim a job for this delivery with a conditional UPDATE; ``None`` when there is nothing to run.

    Counts the attempt first, so a file that kills its worker is failed for good after
    settings.ANALYSIS_MAX_ATTEMPTS deliveries instead of being redelivered forever.
    """
    now = timezone.now()
    claimable = (
        Q(state=AnalysisJob.State.QUEUED)
        # The same message again: its worker died (reject on worker lost, or the broker's restore).
        | Q(state=AnalysisJob.State.RUNNING, task_id=task_id)
        # Another message (the reconciler's) for a job whose lease ran out: its worker is gone.
        | Q(state=AnalysisJob.State.RUNNING, lease_expires_at__lt=now)
    )
    job = AnalysisJob.objects.select_related("upload").filter(pk=job_id).first()
    if job is None:
        return None
    lease = timedelta(seconds=job.time_limit or settings.CELERY_TASK_TIME_LIMIT) + LEASE_MARGIN
    claimed = AnalysisJob.objects.filter(
        claimable, pk=job_id, attempts__lt=settings.ANALYSIS_MAX_ATTEMPTS
    ).update(
        state=AnalysisJob.State.RUNNING,
        attempts=F("attempts") + 1,
        started_at=now,
        lease_expires_at=now + lease,
        task_id=task_id[:64],
        worker=worker[:200],
        engine_version=ENGINE_VERSION,
    )
    if claimed:
        case_touch(case_id=job.upload.case_id)
        job.refresh_from_db()
        soft, _hard = job_time_limits(size=job.upload.size)
        return JobClaim(job=job, upload=job.upload, soft_time_limit=soft)
    job.refresh_from_db()
    if job.state in AnalysisJob.ACTIVE_STATES and job.attempts >= settings.ANALYSIS_MAX_ATTEMPTS:
        stuck = (
            job.state == AnalysisJob.State.QUEUED
            or job.task_id == task_id
            or (job.lease_expires_at is not None and job.lease_expires_at < now)
        )
        if stuck:
            job_fail(
                job_id=job_id,
                reason=_(
                    "Analysis stopped after %(attempts)d attempts: each one ended without a result (the worker "
                    "process was killed, ran out of memory or out of time). The file may be malformed in a way "
                    "that breaks the parser; it needs manual analysis."
                )
                % {"attempts": job.attempts},
                from_states=AnalysisJob.ACTIVE_STATES,
            )
    return None


def job_release(*, job_id: int, task_id: str) -> None:
    """Give a claimed job back to the queue after a transient error; the attempt does not count."""
    released = AnalysisJob.objects.filter(pk=job_id, state=AnalysisJob.State.RUNNING, task_id=task_id).update(
        state=AnalysisJob.State.QUEUED, attempts=F("attempts") - 1, lease_expires_at=None
    )
    if released:
        case_touch(case_id=AnalysisJob.objects.values_list("upload__case_id", flat=True).get(pk=job_id))


def job_complete(*, job_id: int, task_id: str, result: parsed.ParseResult) -> AnalysisJob | None:
    """Record a parse result: replace the upload's crashes, events and findings, mark job and upload, and
    recompute the case-level findings, in one transaction. ``None`` if this delivery lost the job."""
    now = timezone.now()
    unreadable = bool(result.errors) and not (result.crashes or result.events) and result.kind != "unknown"
    with transaction.atomic():
        job = AnalysisJob.objects.select_related("upload").filter(pk=job_id).first()
        if job is None:
            return None
        case = Case.objects.select_for_update().get(pk=job.upload.case_id)  # one recomputation per case
        finished = AnalysisJob.objects.filter(
            pk=job_id, state=AnalysisJob.State.RUNNING, task_id=task_id
        ).update(
            state=AnalysisJob.State.DONE,
            finished_at=now,
            lease_expires_at=None,
            detected_kind=result.kind,
            error="; ".join(result.errors)[:2000],
        )
        if not finished:
            return None  # another delivery finished or failed it: its rows stand
        upload = job.upload
        if result.kind == "unknown":
            detected = upload.kind or Upload.Kind.OTHER
            findings = unsupported_type_findings(result.findings, detected=detected, file=upload.filename)
            result = replace(result, findings=findings)
        data = result.to_json()
        upload_rows_replace(job=job, upload=upload, case=case, data=data)
        changes: dict[str, Any] = {"state": Upload.State.FAILED if unreadable else Upload.State.ANALYSED}
        if not upload.kind:
            changes["kind"] = _UPLOAD_KIND.get(result.kind, Upload.Kind.OTHER)
        Upload.objects.filter(pk=upload.pk, state__in=ANALYSABLE_UPLOAD_STATES).update(**changes)
        case_findings_settle(case=case)
        # Tells the staff once the case's last pending job ends (communications.notifications); raises
        # the case's live version.
        audit_record(case=case, actor=None, action=AuditAction.ANALYSIS_DONE, data={"job": job_id})
    job.refresh_from_db()
    return job


def job_fail(
    *,
    job_id: int,
    reason: str,
    task_id: str | None = None,
    from_states: Sequence[str] = (AnalysisJob.State.RUNNING,),
) -> AnalysisJob | None:
    """Fail a job for good with an explained reason, shown on the case as an error finding on the upload."""
    with transaction.atomic():
        job = AnalysisJob.objects.select_related("upload").filter(pk=job_id).first()
        if job is None:
            return None
        case = Case.objects.select_for_update().get(pk=job.upload.case_id)
        jobs = AnalysisJob.objects.filter(pk=job_id, state__in=list(from_states))
        if task_id is not None:
            jobs = jobs.filter(task_id=task_id)
        if not jobs.update(
            state=AnalysisJob.State.FAILED,
            finished_at=timezone.now(),
            lease_expires_at=None,
            error=reason[:2000],
        ):
            return None
        error_finding = analysis_failed_finding(file=job.upload.filename, reason=reason)
        upload_rows_replace(
            job=job,
            upload=job.upload,
            case=case,
            data={"crashes": [], "events": [], "findings": [asdict(error_finding)]},
        )
        Upload.objects.filter(pk=job.upload_id, state__in=ANALYSABLE_UPLOAD_STATES).update(
            state=Upload.State.FAILED
        )
        case_findings_settle(case=case)
        case_touch(case_id=case.pk)
    job.refresh_from_db()
    return job
