"""The findings message as an expert writes it: one conclusion per finding with evidence and confidence,
recommendations merged by action and ordered by value, nothing asked that the case holds, files that could
not be analysed named once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analysis.models import Crash, Finding
from analysis.rules.actions import merged, render_all
from communications.documents import document_draft, findings_facts
from tests.communications.conftest import make_upload
from uploads.models import Upload


def _crash(case, upload, index, code="0x000000d1", **extra):
    raw = {"extra": {"source_kind": upload.kind, "source_file": upload.filename, **extra}}
    return Crash.objects.create(
        upload=upload, case=case, index=index, code=code, name="DRIVER_IRQL_NOT_LESS_OR_EQUAL",
        crash_time=datetime(2024, 5, 1, 8, index, tzinfo=UTC), parameters=["0x0", "0x2", "0x0", "0x1"], raw=raw,
    )  # fmt: skip


def _finding(case, seq, code, actions, upload=None, **kw):
    return Finding.objects.create(
        case=case, upload=upload, seq=seq, severity=kw.pop("severity", "high"), code=code,
        title=kw.pop("title", code), title_zh=kw.pop("title_zh", f"结论 {code}"), detail="d", detail_zh="说明",
        recommendation="r", recommendation_zh="建议", confidence=kw.pop("confidence", "medium"), actions=actions, **kw,
    )  # fmt: skip


def test_same_action_of_several_findings_is_one_recommendation_naming_every_driver() -> None:
    lines = render_all(["driver_verifier:a.sys", "run_mdsched", "driver_verifier:b.sys", "run_mdsched"], "en")
    assert len(lines) == 2
    assert lines[0].startswith(
        "Enable Driver Verifier on a.sys, b.sys only (verifier /standard /driver a.sys b.sys)"
    )
    assert "mdsched" in lines[1]


def test_dump_settings_and_kernel_dump_are_one_startup_and_recovery_line() -> None:
    lines = render_all(["fix_dump_settings", "collect_kernel_dump"], "en")
    assert len(lines) == 1 and lines[0].count("Startup and Recovery") == 1 and "volmgr 46" in lines[0]


def test_actions_are_ordered_by_value_and_what_the_case_holds_is_not_asked() -> None:
    chosen = merged(
        ["upload_system_log", "collect_kernel_dump", "update_driver:x.sys"], frozenset({"system_log"})
    )
    assert [act.id for act, _args in chosen] == ["update_driver", "collect_kernel_dump"]
    held = merged(["collect_kernel_dump", "run_mdsched"], frozenset({"kernel_memory_dump"}))
    assert [act.id for act, _args in held] == ["run_mdsched"]


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_message_states_conclusions_with_evidence_and_lists_unread_files_once(
    scoped_case, customer, language
):
    dump = make_upload(scoped_case, filename="Mini050124-01.dmp", kind=Upload.Kind.KERNEL_DUMP, by=customer)
    log = make_upload(scoped_case, filename="System.evtx", kind=Upload.Kind.EVTX, by=customer)
    crash = _crash(scoped_case, dump, 0)
    _crash(scoped_case, log, 1, code="0x0000001a")
    first = _finding(scoped_case, 0, "third_party_driver", ["update_driver:acme.sys", "driver_verifier:acme.sys"],
                     title="Third-party driver acme.sys at fault", title_zh="第三方驱动 acme.sys 导致故障",
                     confidence="high")  # fmt: skip
    first.crashes.add(crash)
    _finding(scoped_case, 1, "memory_corruption_pattern", ["driver_verifier:other.sys", "run_mdsched",
             "collect_kernel_dump", "upload_system_log"], severity="medium",
             facts=[{"file": "System.evtx", "fact": "0x1A MEMORY_MANAGEMENT"}])  # fmt: skip
    for name in ("photo.jpg", "notes.docx", "archive.bin"):
        other = make_upload(scoped_case, filename=name, kind=Upload.Kind.OTHER, by=customer)
        _finding(scoped_case, 0, "unsupported_type", [], upload=other, title="Not analysed: unsupported type",
                 title_zh="未分析：不支持的类型", severity="low")  # fmt: skip

    facts = findings_facts(case=scoped_case, language=language)
    body = document_draft(case=scoped_case, kind="findings", language=language).body
    assert [c.code for c in facts.conclusions] == ["third_party_driver", "memory_corruption_pattern"]
    assert facts.conclusions[0].confidence == "high"
    assert facts.conclusions[0].evidence == [
        "Mini050124-01.dmp: 0x000000d1 DRIVER_IRQL_NOT_LESS_OR_EQUAL, 2024-05-01 08:00 UTC"
    ]
    assert facts.conclusions[1].evidence == ["System.evtx: 0x1A MEMORY_MANAGEMENT"]
    # One Driver Verifier line for both drivers, the System log already held, by value.
    assert facts.action_ids == ["update_driver", "driver_verifier", "run_mdsched", "collect_kernel_dump"]
    assert sum("Driver Verifier" in line for line in facts.recommendations) == 1
    # Files that could not be analysed: each named once, in one list, never as a conclusion.
    assert [item.split(":")[0] for item in facts.not_analysed] == ["photo.jpg", "notes.docx", "archive.bin"]
    assert body.count("photo.jpg") == 1
    # The documented meaning of each parameter of the dump's bug check.
    assert facts.parameters[0].rows[0].meaning and all(row.meaning for row in facts.parameters[0].rows)
    heading = "Files not analysed" if language == "en" else "未能分析的文件"
    assert body.count(heading) == 1
