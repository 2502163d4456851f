"""Writes of the analysis pipeline: queue a job, claim it, record its outcome, re-run it (STYLE.md 2, 4, 6).

The flow: ``job_queue_for_upload`` (inside the uploads side's completion transaction) -> the task
``analysis.tasks.analyse_upload`` after commit -> ``job_start`` claims the job with a conditional UPDATE ->
the parsers run outside any transaction -> ``job_complete`` replaces the upload's rows in one short
transaction and recomputes the case-level findings.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.capabilities import can_rerun_analysis
from accounts.models import User
from analysis.cross_case import case_marks_refresh
from analysis.models import AnalysisJob, Crash, CrashDriver, Finding, LogEvent
from analysis.parsers import result as parsed
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidState, NotAllowed
from cases.live import case_touch
from cases.models import Case
from config.caching import cache_is_shared
from uploads.models import Upload

logger = logging.getLogger(__name__)

GIB = 1024**3
# A running job whose hard time limit passed this long ago has certainly lost its worker.
LEASE_MARGIN = timedelta(seconds=30)
# A queued job not started after this long probably lost its message (publish failed after commit).
QUEUED_GRACE = timedelta(minutes=2)

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
_ANALYSABLE_UPLOAD_STATES = (Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED)


# -- queueing ------------------------------------------------------------------------------------------


def job_time_limits(*, size: int) -> tuple[int, int]:
    """Soft and hard time limits (seconds) for a file of ``size`` bytes, capped by CELERY_TASK_TIME_LIMIT."""
    cap = settings.CELERY_TASK_TIME_LIMIT
    per_gb = settings.ANALYSIS_SOFT_TIME_LIMIT_PER_GB * max(size, 0) / GIB
    soft = min(int(settings.ANALYSIS_SOFT_TIME_LIMIT_BASE + per_gb), cap - 30)
    return max(soft, 1), min(soft + 30, cap)


def job_publish(*, job_id: int, size: int) -> None:
    """Publish the task message of a job now (call only outside a transaction or from on_commit)."""
    from analysis.tasks import analyse_upload

    soft, hard = job_time_limits(size=size)
    AnalysisJob.objects.filter(pk=job_id).update(published_at=timezone.now())
    analyse_upload.apply_async(args=[job_id], soft_time_limit=soft, time_limit=hard)


def _publish_on_commit(job: AnalysisJob, size: int) -> None:
    # An outbox row in the job's transaction, published after the commit (never before: the worker could
    # look for the job before it exists), or by the outbox dispatcher when the broker is down then.
    from outbox.services import outbox_publish

    soft, hard = job_time_limits(size=size)
    outbox_publish(
        task="analysis.tasks.analyse_upload",
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
    from cases.selectors import case_visible_to

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
    if upload.state not in _ANALYSABLE_UPLOAD_STATES or not upload.storage_name or upload.content_deleted_at:
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


# -- running -------------------------------------------------------------------------------------------


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
        engine_version=_engine_version(),
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
    data = result.to_json()
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
            data["findings"] = _unsupported_findings(upload, data["findings"])
        _replace_upload_rows(job=job, upload=upload, case=case, data=data)
        changes: dict[str, Any] = {"state": Upload.State.FAILED if unreadable else Upload.State.ANALYSED}
        if not upload.kind:
            changes["kind"] = _UPLOAD_KIND.get(result.kind, Upload.Kind.OTHER)
        Upload.objects.filter(pk=upload.pk, state__in=_ANALYSABLE_UPLOAD_STATES).update(**changes)
        case_findings_settle(case=case)
        # Tells the staff once the case's last pending job ends (communications.notifications); raises
        # the case's live version.
        audit_record(case=case, actor=None, action=AuditAction.ANALYSIS_DONE, data={"job": job_id})
    job.refresh_from_db()
    return job


def _bilingual(message: str, **values: object) -> tuple[str, str]:
    """A message of ours in the source language and in Chinese (stored; the page picks one)."""
    english = _(message) % values if values else _(message)
    with translation.override("zh-hans"):
        chinese = _(message) % values if values else _(message)
    return english, chinese


def _unsupported_findings(upload: Upload, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # The rules say the type is not recognised; the case page must also say it was not analysed and what
    # the upload side detected, so an engineer knows to look at the file by hand.
    detected = upload.kind or Upload.Kind.OTHER
    base = next((item for item in findings if item.get("code") == "unsupported_type"), {})
    title, title_zh = _bilingual(
        gettext_noop("Not analysed: unsupported type (detected: %(type)s)"), type=detected
    )
    item = {
        **base,
        "severity": base.get("severity") or "low",
        "code": "unsupported_type",
        "title": title,
        "title_zh": title_zh,
        "detail": base.get("detail") or upload.filename,
        "recommendation": base.get("recommendation") or "",
        "confidence": base.get("confidence") or "high",
        "evidence": [],
    }
    return [item, *(other for other in findings if other.get("code") != "unsupported_type")]


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
        title, title_zh = _bilingual(gettext_noop("Analysis failed"))
        advice, advice_zh = _bilingual(
            gettext_noop("An engineer can re-run the analysis or analyse the file by hand.")
        )
        error_finding = {
            "severity": "medium",
            "code": "analysis_failed",
            "title": title,
            "title_zh": title_zh,
            "detail": f"{job.upload.filename}: {reason}",
            "recommendation": advice,
            "recommendation_zh": advice_zh,
            "confidence": "high",
            "evidence": [],
        }
        _replace_upload_rows(
            job=job,
            upload=job.upload,
            case=case,
            data={"crashes": [], "events": [], "findings": [error_finding]},
        )
        Upload.objects.filter(pk=job.upload_id, state__in=_ANALYSABLE_UPLOAD_STATES).update(
            state=Upload.State.FAILED
        )
        case_findings_settle(case=case)
        case_touch(case_id=case.pk)
    job.refresh_from_db()
    return job


# -- rows ----------------------------------------------------------------------------------------------


def _replace_upload_rows(*, job: AnalysisJob, upload: Upload, case: Case, data: dict[str, Any]) -> None:
    # Delete then insert in the caller's transaction: readers see the old rows or the new, never a mix,
    # and UNIQUE(upload, index) turns any double write into an error instead of duplicates.
    Crash.objects.filter(upload=upload).delete()
    LogEvent.objects.filter(upload=upload).delete()
    Finding.objects.filter(upload=upload).delete()
    crashes = Crash.objects.bulk_create(
        [
            _crash_row(job=job, upload=upload, case=case, index=i, raw=raw)
            for i, raw in enumerate(data["crashes"])
        ]
    )
    _require_ids(crashes)
    CrashDriver.objects.bulk_create(
        [
            CrashDriver(crash=crash, case=case, name=name.lower())
            for crash in crashes
            for name in dict.fromkeys(crash.third_party_drivers)
        ],
        ignore_conflicts=True,
    )
    LogEvent.objects.bulk_create(
        [_event_row(upload=upload, case=case, index=i, raw=raw) for i, raw in enumerate(data["events"])]
    )
    _create_findings(case=case, upload=upload, job=job, items=data["findings"], crashes=crashes)


def _require_ids(rows: Sequence[Crash]) -> None:
    # bulk_create fills primary keys on PostgreSQL and SQLite 3.35+; evidence links need them.
    if rows and rows[0].pk is None:
        raise RuntimeError("the database did not return the ids of bulk-created crashes")


def _create_findings(
    *,
    case: Case,
    upload: Upload | None,
    job: AnalysisJob | None,
    items: Iterable[dict[str, Any]],
    crashes: list[Crash],
) -> None:
    rows: list[Finding] = []
    evidence: list[list[Crash]] = []
    for seq, item in enumerate(items):
        rows.append(
            Finding(
                case=case,
                upload=upload,
                job=job,
                seq=seq,
                severity=item.get("severity") or "info",
                code=_cut(item.get("code"), 80),
                title=_cut(item.get("title"), 300),
                detail=item.get("detail") or "",
                recommendation=item.get("recommendation") or "",
                confidence=_cut(item.get("confidence"), 10),
                title_zh=_cut(item.get("title_zh"), 300),
                detail_zh=item.get("detail_zh") or "",
                recommendation_zh=item.get("recommendation_zh") or "",
                facts=list(item.get("facts") or ()),
                actions=list(item.get("actions") or ()),
            )
        )
        evidence.append([crashes[i] for i in item.get("evidence") or () if 0 <= i < len(crashes)])
    created = Finding.objects.bulk_create(rows)
    through = Finding.crashes.through
    through.objects.bulk_create(
        [
            through(finding_id=finding.pk, crash_id=crash.pk)
            for finding, linked in zip(created, evidence, strict=True)
            for crash in dict.fromkeys(linked)
        ]
    )


def _crash_row(*, job: AnalysisJob, upload: Upload, case: Case, index: int, raw: dict[str, Any]) -> Crash:
    signatures = raw.get("signatures") or {}
    third_party = [
        module["name"] for module in raw.get("modules") or () if module.get("origin") == "third_party"
    ]
    return Crash(
        job=job,
        upload=upload,
        case=case,
        index=index,
        crash_time=_parse_time(raw.get("crash_time")),
        code=_cut(raw.get("bugcheck_code") or raw.get("exception_code"), 20),
        name=_cut(raw.get("bugcheck_name") or raw.get("exception_name"), 200),
        parameters=list(raw.get("parameters") or ()),
        exception_code=_cut(raw.get("exception_code"), 20),
        exception_name=_cut(raw.get("exception_name"), 200),
        exception_address=_cut(raw.get("exception_address"), 40),
        title=_cut(raw.get("title"), 300),
        os_build=_cut(raw.get("os_build"), 40),
        architecture=_cut(raw.get("architecture"), 20),
        process_name=_cut(raw.get("process_name"), 200),
        culprit_module=_cut(raw.get("culprit_module"), 200),
        culprit_reason=raw.get("culprit_reason") or "",
        stack=list(raw.get("stack") or ()),
        modules=list(raw.get("modules") or ()),
        third_party_drivers=list(dict.fromkeys(third_party)),
        signature_coarse=_cut(signatures.get("coarse"), 100),
        signature_module=_cut(signatures.get("module"), 300),
        signature_frames=_cut(signatures.get("frames"), 500),
        raw=raw,
    )


def _event_row(*, upload: Upload, case: Case, index: int, raw: dict[str, Any]) -> LogEvent:
    return LogEvent(
        upload=upload,
        case=case,
        index=index,
        event_id=int(raw.get("event_id") or 0),
        provider=_cut(raw.get("provider"), 200),
        time=_cut(raw.get("time"), 40),
        kind=_cut(raw.get("kind"), 40),
        message=raw.get("message") or "",
        data=raw.get("data") or {},
    )


def _cut(value: object, length: int) -> str:
    return "" if value is None else str(value)[:length]


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = parse_datetime(value)
    except ValueError:
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


def _engine_version() -> str:
    from analysis.parsers import ENGINE_VERSION

    return ENGINE_VERSION


# -- case level ----------------------------------------------------------------------------------------


def case_findings_settle(*, case: Case) -> bool:
    """Recompute the case-level findings when no other job of the case is still queued or running.

    A burst of uploads to one case then pays for one cross-crash pass instead of one per file. Callers
    hold the case row lock, so of two jobs finishing together the second sees the first done and
    recomputes; a job stuck in the queue is re-published by the reconciler and settles the case when it
    ends. Returns whether it recomputed.
    """
    pending = AnalysisJob.objects.filter(
        upload__case=case, state__in=[AnalysisJob.State.QUEUED, AnalysisJob.State.RUNNING]
    ).exists()
    if not pending:
        case_findings_recompute(case=case)
    return not pending


def case_findings_recompute(*, case: Case) -> list[Finding]:
    """Replace the case-level findings with the cross-crash rules over every crash and event of the case.

    Call inside a transaction holding the case row lock, so two jobs of one case do not interleave.
    """
    from analysis.rules import case_findings

    # Only the contract JSON: the other JSON columns repeat it and decoding them doubled the cost.
    crashes = list(
        Crash.objects.filter(case=case).only("id", "raw").order_by("upload__created_at", "upload_id", "index")
    )
    events = list(LogEvent.objects.filter(case=case).order_by("upload__created_at", "upload_id", "index"))
    findings = case_findings([_crash_from_json(c.raw) for c in crashes], [_event_from_row(e) for e in events])
    Finding.objects.filter(case=case, upload__isnull=True).delete()
    _create_findings(
        case=case, upload=None, job=None, items=[asdict(item) for item in findings], crashes=crashes
    )
    case_marks_refresh(case=case)
    return list(Finding.objects.filter(case=case, upload__isnull=True))


def _crash_from_json(raw: dict[str, Any]) -> parsed.Crash:
    """The parser's Crash rebuilt from its stored JSON, for the cross-crash rules."""
    known = {field.name for field in fields(parsed.Crash)}
    values = {key: value for key, value in raw.items() if key in known}
    values["parameters"] = tuple(values.get("parameters") or ())
    values["stack"] = tuple(_build(parsed.Frame, frame) for frame in values.get("stack") or ())
    values["modules"] = tuple(_build(parsed.Module, module) for module in values.get("modules") or ())
    values["unloaded_modules"] = tuple(
        _build(parsed.Module, module) for module in values.get("unloaded_modules") or ()
    )
    values["signatures"] = dict(values.get("signatures") or {})
    values["extra"] = dict(values.get("extra") or {})
    return parsed.Crash(**values)


def _build(cls: type, raw: dict[str, Any]) -> Any:
    names = {field.name for field in fields(cls)}
    return cls(**{key: value for key, value in raw.items() if key in names})


def _event_from_row(row: LogEvent) -> parsed.Event:
    return parsed.Event(
        event_id=row.event_id,
        provider=row.provider,
        time=row.time or None,
        kind=row.kind,
        message=row.message or None,
        data=row.data,
    )


# -- reconciler ----------------------------------------------------------------------------------------


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
    from config.celery import app

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


# -- worker heartbeat ----------------------------------------------------------------------------------

HEARTBEAT_KEY = "analysis:worker-heartbeat"


def heartbeat_file() -> Path:
    return Path(settings.VAR_DIR) / "analysis-worker-heartbeat.json"


def worker_heartbeat_record(*, worker: str) -> dict[str, str]:
    """Note that an analysis worker just ran a task: in the shared cache, or a file on the embedded setup."""
    payload = {"at": timezone.now().isoformat(), "worker": worker[:200]}
    if cache_is_shared():
        cache.set(HEARTBEAT_KEY, payload, timeout=None)
    else:
        target = heartbeat_file()
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload), encoding="utf-8")
        os.replace(temporary, target)  # atomic: /healthz never reads half a file
    return payload
