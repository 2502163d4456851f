"""Reads of the analysis pipeline for pages and API; authorisation comes from cases.selectors.

Every function costs a fixed number of queries whatever the number of uploads, crashes or findings.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypedDict

from django.core.cache import cache
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.capabilities import can_rerun_analysis, can_see_internal, can_work_cases
from accounts.models import User
from analysis.formatting import duration
from analysis.heartbeat import HEARTBEAT_KEY, heartbeat_file
from analysis.models import AnalysisJob, CaseMark, Crash, Finding, MarkCount
from analysis.tables.knowledge import bugcheck_info, parameter_meanings
from cases.models import Case
from cases.selectors import case_visible_queryset
from config.caching import cache_is_shared
from uploads.models import Upload

# How many other cases to link per signature or driver; the count is exact, the list is capped.


@dataclass(frozen=True)
class UploadStatus:
    upload: Upload
    job: AnalysisJob | None

    @property
    def state(self) -> str:
        """The analysis state shown: the job's, or ``not_queued`` for an upload without a job."""
        return self.job.state if self.job else "not_queued"

    @property
    def pending(self) -> bool:
        return self.job is not None and self.job.is_pending

    def elapsed(self, now: datetime | None = None) -> float | None:
        """How long the job ran (so far, while it runs), to the microsecond: most files take under a
        second, which whole seconds showed as 0:00."""
        if self.job is None or self.job.started_at is None:
            return None
        end = self.job.finished_at or now or timezone.now()
        return max(0.0, (end - self.job.started_at).total_seconds())

    def elapsed_seconds(self, now: datetime | None = None) -> int | None:
        elapsed = self.elapsed(now)
        return None if elapsed is None else int(elapsed)


def _latest_jobs() -> Prefetch[Literal["analysis_jobs"], QuerySet[AnalysisJob], Literal["jobs"]]:
    return Prefetch(
        "analysis_jobs", queryset=AnalysisJob.objects.order_by("-queued_at", "-id"), to_attr="jobs"
    )


def upload_statuses_for_case(*, case: Case) -> list[UploadStatus]:
    """Every stored upload of the case (archive members included) with its newest job; two queries.
    Copies of a file already in the case (their original's analysis stands for them) and withdrawn files
    are left out."""
    uploads = (
        Upload.objects.filter(case=case, duplicate_of__isnull=True, withdrawn_at__isnull=True)
        .exclude(state__in=[Upload.State.RECEIVING, Upload.State.REJECTED])
        .exclude(kind=Upload.Kind.ARCHIVE)
        .order_by("created_at", "filename")
        .prefetch_related(_latest_jobs())
    )
    return [UploadStatus(upload=u, job=u.jobs[0] if u.jobs else None) for u in uploads]


def uploads_under_analysis(*, upload_ids: Iterable[object]) -> bool:
    """Whether any of these uploads has an analysis job queued or running."""
    return AnalysisJob.objects.filter(
        upload_id__in=list(upload_ids), state__in=AnalysisJob.ACTIVE_STATES
    ).exists()


def crashes_for_case(*, case: Case) -> QuerySet[Crash]:
    """The case's crashes by time (unknown times last), with their upload."""
    return (
        Crash.objects.filter(case=case)
        .select_related("upload")
        .order_by("crash_time", "upload__created_at", "index")
    )


def findings_for_case(*, case: Case) -> QuerySet[Finding]:
    """Case-level findings first, then each upload's, with their evidence crash ids prefetched."""
    return (
        Finding.objects.filter(case=case)
        .select_related("upload")
        .prefetch_related(Prefetch("crashes", queryset=Crash.objects.only("id", "upload_id", "index")))
        .order_by("upload__created_at", "upload_id", "seq")
    )


@dataclass
class SeenElsewhere:
    """Other cases (visible to the viewer) with the same crash signature or the same third-party driver."""

    signatures: dict[str, tuple[int, list[str]]] = field(default_factory=dict)
    drivers: dict[str, tuple[int, list[str]]] = field(default_factory=dict)


def seen_elsewhere(*, user: User, case: Case, crashes: list[Crash]) -> SeenElsewhere:
    """ "Seen in N other cases" for the crashes' module signatures and third-party drivers, in one query:
    from the counters (``analysis.cross_case``) for staff who see every case, counted over the cases they
    may see for account managers (who see a few organisations)."""
    result = SeenElsewhere()
    if not crashes or not can_see_internal(user):
        return result
    wanted = Q(pk__in=[])
    signatures = {c.signature_module for c in crashes if c.signature_module}
    drivers = {name.lower() for c in crashes for name in c.third_party_drivers}
    if signatures:
        wanted |= Q(kind=CaseMark.Kind.SIGNATURE, key__in=signatures)
    if drivers:
        wanted |= Q(kind=CaseMark.Kind.DRIVER, key__in=drivers)
    if can_work_cases(user):
        this_case = CaseMark.objects.filter(case=case, kind=OuterRef("kind"), key=OuterRef("key"))
        rows = (
            MarkCount.objects.filter(wanted)
            .annotate(here=Exists(this_case))
            .values_list("kind", "key", "cases", "here")
        )
        counts = [(kind, key, cases - int(here)) for kind, key, cases, here in rows]
    else:
        visible = case_visible_queryset(user).exclude(pk=case.pk).values("pk")
        counts = list(
            CaseMark.objects.filter(wanted, case__in=visible)
            .values("kind", "key")
            .annotate(n=Count("case"))
            .values_list("kind", "key", "n")
        )
    for kind, key, n in counts:
        target = result.drivers if kind == CaseMark.Kind.DRIVER else result.signatures
        target[key] = (n, [])
    return result


# -- the case page's panel ---------------------------------------------------------------------------


def _label(state: str) -> str:
    return str(dict(AnalysisJob.State.choices).get(state) or _("Not analysed"))


class UploadStatusView(TypedDict):
    """One upload's analysis as the page polls it (JSON) and the panel lists it."""

    id: str
    filename: str
    state: str
    label: str
    elapsed: int | None
    elapsed_text: str
    attempts: int
    error: str


class StatusPayload(TypedDict):
    """The live status of a case's uploads; ``version`` changes whenever a job changes state."""

    pending: bool
    version: str
    uploads: list[UploadStatusView]


class FindingView(TypedDict):
    """A finding in the reader's language, with the numbers of the crashes that are its evidence."""

    severity: str
    severity_label: str
    code: str
    title: str
    detail: str
    recommendation: str
    confidence: str
    upload: Upload | None
    evidence: list[int]


class ParameterView(TypedDict):
    index: int
    value: object
    meaning: str


class CrashView(TypedDict):
    """A crash of the case, numbered, with its bug check parameters explained and where else its
    drivers and signature were seen."""

    number: int
    crash: Crash
    time_sort: str
    parameters: list[ParameterView]
    summary: str
    modules: list[dict[str, object]]
    drivers: list[tuple[str, int, list[str]]]
    signature_seen: tuple[int, list[str]]


def status_payload(statuses: list[UploadStatus]) -> StatusPayload:
    """The live status the page polls: small, and the same shape for customers and staff."""
    now = timezone.now()
    uploads = [
        UploadStatusView(
            id=str(s.upload.pk),
            filename=s.upload.filename,
            state=s.state,
            label=_label(s.state),
            elapsed=s.elapsed_seconds(now),
            elapsed_text=duration(s.elapsed(now)),
            attempts=s.job.attempts if s.job else 0,
            error=s.job.error if s.job and s.job.state == AnalysisJob.State.FAILED else "",
        )
        for s in statuses
    ]
    return StatusPayload(
        pending=any(s.pending for s in statuses),
        # Changes whenever a job changes state: the page reloads the panel then, not on every poll.
        version="|".join(f"{u['id']}:{u['state']}" for u in uploads),
        uploads=uploads,
    )


def _finding_view(finding: Finding, zh: bool, crash_numbers: dict[int, int]) -> FindingView:
    return FindingView(
        severity=finding.severity,
        severity_label=finding.get_severity_display(),
        code=finding.code,
        title=(zh and finding.title_zh) or finding.title,
        detail=(zh and finding.detail_zh) or finding.detail,
        recommendation=(zh and finding.recommendation_zh) or finding.recommendation,
        confidence=finding.confidence,
        upload=finding.upload,
        evidence=sorted(crash_numbers[c.pk] for c in finding.crashes.all() if c.pk in crash_numbers),
    )


def _crash_view(number: int, crash: Crash, seen: SeenElsewhere, zh: bool = False) -> CrashView:
    info = bugcheck_info(crash.code) if crash.code and not crash.exception_code else None
    values = tuple(crash.parameters or ())
    meanings = parameter_meanings(crash.code, values, "zh" if zh else "en") if info else []
    parameters = [
        ParameterView(index=i + 1, value=value, meaning=meanings[i] if i < len(meanings) else "")
        for i, value in enumerate(crash.parameters or [])
    ]
    return CrashView(
        number=number,
        crash=crash,
        time_sort=crash.crash_time.isoformat() if crash.crash_time else "",
        parameters=parameters,
        summary=info.summary if info else "",
        modules=sorted(
            crash.modules or [], key=lambda m: (m.get("origin") != "third_party", m.get("name", ""))
        ),
        drivers=[(name, *seen.drivers.get(name.lower(), (0, []))) for name in crash.third_party_drivers],
        signature_seen=seen.signatures.get(crash.signature_module, (0, [])),
    )


@dataclass(frozen=True)
class AnalysisPanel:
    """What the analysis panel of the case page shows to one viewer."""

    statuses: list[tuple[UploadStatus, UploadStatusView]]
    pending: bool
    show_findings: bool
    can_rerun: bool
    status_url: str
    crashes: list[CrashView] = field(default_factory=list)
    case_findings: list[FindingView] = field(default_factory=list)
    upload_findings: list[FindingView] = field(default_factory=list)


def analysis_panel_for(*, user: User, case: Case) -> AnalysisPanel:
    """The analysis panel for ``user``, its texts in the active language, in a fixed number of queries."""
    zh = (translation.get_language() or "").startswith("zh")
    statuses = upload_statuses_for_case(case=case)
    payload = status_payload(statuses)
    base = AnalysisPanel(
        statuses=list(zip(statuses, payload["uploads"], strict=True)),
        pending=payload["pending"],
        show_findings=can_see_internal(user),
        can_rerun=can_rerun_analysis(user),
        status_url=reverse("analysis:status", args=[case.number]),
    )
    if not base.show_findings:
        return base
    crashes = list(crashes_for_case(case=case))
    seen = seen_elsewhere(user=user, case=case, crashes=crashes)
    numbers = {crash.pk: i + 1 for i, crash in enumerate(crashes)}
    findings = [_finding_view(f, zh, numbers) for f in findings_for_case(case=case)]
    return dataclasses.replace(
        base,
        crashes=[_crash_view(numbers[c.pk], c, seen, zh) for c in crashes],
        case_findings=[f for f in findings if f["upload"] is None],
        upload_findings=[f for f in findings if f["upload"] is not None],
    )


# A heartbeat is written every 30 s; three missed ones mean no analysis worker is taking tasks.
HEARTBEAT_STALE_SECONDS = 90


def worker_health() -> dict[str, object]:
    """Analysis workers' state for /healthz: heartbeat age and the jobs waiting; two cheap reads."""
    payload: dict[str, str] | None = None
    if cache_is_shared():
        payload = cache.get(HEARTBEAT_KEY)
    else:
        try:
            payload = json.loads(heartbeat_file().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            payload = None
    counts = dict(
        AnalysisJob.objects.filter(state__in=AnalysisJob.ACTIVE_STATES)
        .values_list("state")
        .annotate(n=Count("id"))
        .values_list("state", "n")
    )
    jobs = {"queued": counts.get("queued", 0), "running": counts.get("running", 0)}
    if not payload:
        return {"state": "unknown", "detail": "no heartbeat yet (is beat running?)", "jobs": jobs}
    seen = datetime.fromisoformat(payload["at"])
    age = int((timezone.now() - seen).total_seconds())
    return {
        "state": "ok" if age <= HEARTBEAT_STALE_SECONDS else "stale",
        "last_seen": payload["at"],
        "age_seconds": age,
        "worker": payload.get("worker", ""),
        "jobs": jobs,
    }
