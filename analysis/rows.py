"""The rows of an analysis: an upload's crashes, drivers, events and findings, written from the parsers'
JSON in the caller's transaction (analysis.services, analysis.case_findings)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from analysis.models import AnalysisJob, Crash, CrashDriver, Finding, LogEvent
from cases.models import Case
from uploads.models import Upload


def upload_rows_replace(*, job: AnalysisJob, upload: Upload, case: Case, data: dict[str, Any]) -> None:
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
    findings_create(case=case, upload=upload, job=job, items=data["findings"], crashes=crashes)


def _require_ids(rows: Sequence[Crash]) -> None:
    # bulk_create fills primary keys on PostgreSQL and SQLite 3.35+; evidence links need them.
    if rows and rows[0].pk is None:
        raise RuntimeError("the database did not return the ids of bulk-created crashes")


def findings_create(
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
