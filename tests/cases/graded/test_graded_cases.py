"""Each graded case (tests/cases/graded/*/expected.json) run through the pipeline: its files parsed and
recorded as analysis jobs, the case's findings recomputed, and the findings message drafted in English and
Chinese, then graded against the expert's conclusion (cause, culprit, evidence, top recommendation, no
repeats). Results go to var/graded-results.json for bench/graded.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from analysis import services
from analysis.models import AnalysisJob
from analysis.parsers.detect import detect_upload_type
from analysis.rules import analyse_file
from communications.documents import document_draft, findings_facts
from tests.cases.graded.grading import grade, load_cases
from uploads.models import Upload

CASES = load_cases()
RESULTS: dict[str, dict[str, list[str]]] = {}


def _params() -> list[object]:
    params = []
    for case in CASES:
        marks = (
            [pytest.mark.skip(reason=f"files not present here: {', '.join(case.missing)}")]
            if case.missing
            else []
        )
        params.append(pytest.param(case, marks=marks, id=case.name))
    return params


def _analyse(case_row, name: str, path: Path) -> None:
    upload = Upload.objects.create(
        case=case_row,
        filename=name,
        size=path.stat().st_size,
        offset=path.stat().st_size,
        sha256="0" * 64,
        state=Upload.State.STORED,
        kind=detect_upload_type(path),
        storage_name=f"{case_row.number}/{name}",
    )
    job = AnalysisJob.objects.create(
        upload=upload, state=AnalysisJob.State.RUNNING, task_id="graded", queued_at=timezone.now()
    )
    services.job_complete(job_id=job.pk, task_id="graded", result=analyse_file(path, display_name=name))


@pytest.mark.parametrize("graded", _params())
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_graded_case_draft_reaches_the_experts_conclusion(graded, language, case) -> None:
    for name, path in graded.files:
        _analyse(case, name, path)
    body = document_draft(case=case, kind="findings", language=language).body
    facts = findings_facts(case=case, language=language)
    problems = grade(graded.data, facts, body, [name for name, _path in graded.files], language)
    RESULTS.setdefault(graded.name, {})[language] = problems
    _write_results()
    assert problems == [], "\n".join(problems) + "\n\n" + body


def _write_results() -> None:
    target = Path(settings.VAR_DIR) / "graded-results.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        name: {"title": next(c.data["title"] for c in CASES if c.name == name), "languages": langs}
        for name, langs in RESULTS.items()
    }
    target.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
