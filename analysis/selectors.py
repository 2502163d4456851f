"""Reads of the analysis pipeline for pages and API; authorisation comes from cases.selectors.

Every function costs a fixed number of queries whatever the number of uploads, crashes or findings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Prefetch, QuerySet
from django.utils import timezone

from accounts.models import User
from analysis.models import AnalysisJob, Crash, CrashDriver, Finding
from cases.models import Case
from cases.selectors import case_visible_queryset
from uploads.models import Upload

# How many other cases to link per signature or driver; the count is exact, the list is capped.
SEEN_ELSEWHERE_LINKS = 10


def user_sees_findings(user: User) -> bool:
    """Findings and crashes are internal to the vendor's staff until an engineer shares them."""
    return user.is_active and (user.is_superuser or user.is_support_staff)


def user_can_rerun(user: User) -> bool:
    return user.is_active and (user.is_superuser or user.is_engineer or user.is_manager)


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

    def elapsed_seconds(self, now: datetime | None = None) -> int | None:
        if self.job is None or self.job.started_at is None:
            return None
        end = self.job.finished_at or now or timezone.now()
        return max(0, int((end - self.job.started_at).total_seconds()))


def _latest_jobs() -> Prefetch:
    return Prefetch(
        "analysis_jobs", queryset=AnalysisJob.objects.order_by("-queued_at", "-id"), to_attr="jobs"
    )


def upload_statuses_for_case(*, case: Case) -> list[UploadStatus]:
    """Every stored upload of the case (archive members included) with its newest job; two queries."""
    uploads = (
        Upload.objects.filter(case=case)
        .exclude(state__in=[Upload.State.RECEIVING, Upload.State.REJECTED])
        .exclude(kind=Upload.Kind.ARCHIVE)
        .order_by("created_at", "filename")
        .prefetch_related(_latest_jobs())
    )
    return [UploadStatus(upload=u, job=u.jobs[0] if u.jobs else None) for u in uploads]


def job_for_upload(*, upload: Upload) -> AnalysisJob | None:
    """The newest job of an upload (its current analysis state)."""
    return upload.analysis_jobs.order_by("-queued_at", "-id").first()


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
    """ "Seen in N other cases" for the crashes' module signatures and third-party drivers: four aggregate
    queries, whatever the number of crashes."""
    result = SeenElsewhere()
    if not crashes or not user_sees_findings(user):
        return result
    visible = case_visible_queryset(user).exclude(pk=case.pk).values("pk")
    signatures = {c.signature_module for c in crashes if c.signature_module}
    drivers = {name.lower() for c in crashes for name in c.third_party_drivers}
    if signatures:
        others = Crash.objects.filter(signature_module__in=signatures, case__in=visible)
        result.signatures = _counted(
            others.values("signature_module")
            .annotate(n=Count("case", distinct=True))
            .values_list("signature_module", "n"),
            others.values_list("signature_module", "case__number").distinct().order_by("-case__opened_at"),
        )
    if drivers:
        others_d = CrashDriver.objects.filter(name__in=drivers, case__in=visible)
        result.drivers = _counted(
            others_d.values("name").annotate(n=Count("case", distinct=True)).values_list("name", "n"),
            others_d.values_list("name", "case__number").distinct().order_by("-case__opened_at"),
        )
    return result


def _counted(counts, numbers) -> dict[str, tuple[int, list[str]]]:  # type: ignore[no-untyped-def]
    links: dict[str, list[str]] = defaultdict(list)
    # Capped per key in Python: the distinct (key, case) pairs are few next to the crashes behind them.
    for key, number in numbers[: SEEN_ELSEWHERE_LINKS * 50]:
        if len(links[key]) < SEEN_ELSEWHERE_LINKS:
            links[key].append(number)
    return {key: (n, links.get(key, [])) for key, n in counts}


# A heartbeat is written every 30 s; three missed ones mean no analysis worker is taking tasks.
HEARTBEAT_STALE_SECONDS = 90


def worker_health() -> dict[str, object]:
    """Analysis workers' state for /healthz: heartbeat age and the jobs waiting; two cheap reads."""
    import json

    from django.core.cache import cache

    from analysis.services import HEARTBEAT_KEY, cache_is_shared, heartbeat_file

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
