"""Case-level findings: the cross-crash rules over every crash and event of a case, recomputed when its
last running job ends (callers hold the case row lock)."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any

from analysis.cross_case import case_marks_refresh
from analysis.models import AnalysisJob, Crash, Finding, LogEvent
from analysis.parsers import result as parsed
from analysis.rows import findings_create
from analysis.rules import case_findings
from cases.models import Case


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
    # Only the contract JSON: the other JSON columns repeat it and decoding them doubled the cost.
    crashes = list(
        Crash.objects.filter(case=case).only("id", "raw").order_by("upload__created_at", "upload_id", "index")
    )
    events = list(LogEvent.objects.filter(case=case).order_by("upload__created_at", "upload_id", "index"))
    findings = case_findings([_crash_from_json(c.raw) for c in crashes], [_event_from_row(e) for e in events])
    Finding.objects.filter(case=case, upload__isnull=True).delete()
    findings_create(
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
