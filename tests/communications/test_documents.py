"""The three documents drafted from the reference case, in both languages: facts in, internal notes out."""

from __future__ import annotations

import pytest

from cases import services as case_services
from communications.documents import document_draft, document_language, placeholders_in
from communications.text_html import text_to_html
from tests.communications.conftest import INTERNAL_NOTE

pytestmark = pytest.mark.django_db

LANGUAGES = ["en", "zh-hans"]


def _text(draft) -> str:
    return draft.subject + "\n" + draft.body


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", ["scope", "findings", "summary"])
def test_no_document_contains_an_internal_note(reference_case, kind, language):
    draft = document_draft(case=reference_case, kind=kind, language=language)
    assert "INTERNAL-ONLY" not in _text(draft)
    assert "4711" not in _text(draft)
    assert INTERNAL_NOTE not in str(text_to_html(draft.body))
    assert reference_case.number in draft.subject


@pytest.mark.parametrize(
    ("language", "headings"),
    [
        ("en", ["Problem definition", "Problem scope", "Next steps", "How to upload"]),
        ("zh-hans", ["问题定义", "问题范围", "下一步动作", "日志上传方法"]),
    ],
)
def test_scope_message_has_definition_closure_criteria_next_steps_and_upload_link(
    reference_case, language, headings
):
    body = document_draft(case=reference_case, kind="scope", language=language).body
    for heading in headings:
        assert heading in body
    assert "Terminals crash with 0xBE." in body  # the scope's problem definition
    assert "Upload the minidumps and the System log." in body  # its next steps
    assert f"/cases/{reference_case.number}/upload/" in body
    closure = (
        ["solved", "by design", "third party", "separate cases"]
        if language == "en"
        else ["解决问题", "产品设计的行为", "涉及到三方", "拆分案例"]
    )
    for criterion in closure:
        assert criterion in body


@pytest.mark.parametrize("language", LANGUAGES)
def test_findings_message_has_crash_table_drivers_and_recommendations(reference_case, language):
    body = document_draft(case=reference_case, kind="findings", language=language).body
    for code in ("0x000000be", "0x0000001a", "0x000000c2", "0x0000007e"):
        assert code in body
    assert "ATTEMPTED_WRITE_TO_READONLY_MEMORY" in body
    assert "2023-03-10 13:31 UTC" in body
    assert "smss.exe" in body
    assert "SfUemIsoSpace.sys" in body
    if language == "en":
        assert "| Time | Code | Name | Process | Culprit |" in body
        assert "Windows Memory Diagnostic (mdsched)" in body
        assert "Update or remove SfUemIsoSpace.sys" in body
        assert "full memory dump or a Time Travel Trace" in body
    else:
        assert "| 时间 | 错误代码 | 名称 | 进程 | 可疑模块 |" in body
        assert "mdsched" in body and "更新或移除 SfUemIsoSpace.sys" in body
        assert "TTT 动态跟踪" in body
        assert "Update or remove" not in body  # the Chinese fields are used, not the English ones
    assert placeholders_in(body) == []


def test_findings_table_becomes_an_html_table(reference_case):
    html = str(text_to_html(document_draft(case=reference_case, kind="findings", language="en").body))
    assert "<table" in html and "<th>Culprit</th>" in html
    assert "<td>0x000000be</td>" in html
    assert "<h3>Recommendations</h3>" in html
    assert "<ol>" in html


@pytest.mark.parametrize("language", LANGUAGES)
def test_findings_draft_without_findings_says_so_and_invents_nothing(scoped_case, language):
    draft = document_draft(case=scoped_case, kind="findings", language=language)
    assert ("has no results yet" if language == "en" else "还没有分析结果") in draft.body
    assert "0x" not in draft.body
    assert "|" not in draft.body  # no table
    assert placeholders_in(draft.body), "the engineer must write the message before it can be sent"


@pytest.mark.parametrize(
    ("language", "headings"),
    [
        ("en", ["Case No:", "Problem description", "Analysis", "Resolution"]),
        ("zh-hans", ["Case No：", "问题描述", "问题分析", "问题总结"]),
    ],
)
def test_summary_is_prefilled_from_scope_and_findings(reference_case, language, headings):
    body = document_draft(case=reference_case, kind="summary", language=language).body
    for heading in headings:
        assert heading in body
    assert reference_case.number in body
    assert "Terminals crash with 0xBE." in body  # problem from the scope
    assert "SfUemIsoSpace.sys" in body  # analysis from the findings
    assert "0x000000be" in body
    # The resolution is not known before the customer confirms it: a placeholder, not an invention.
    assert len(placeholders_in(body)) == 1


def test_summary_of_a_closed_case_uses_its_summary(reference_case, engineer):
    case_services.case_close(
        actor=engineer,
        case=reference_case,
        problem_description="Blue screens on the trading terminals.",
        analysis="A driver wrote to read-only memory.",
        resolution="The customer confirmed the problem is solved.",
        resolution_type="resolved",
    )
    body = document_draft(case=reference_case, kind="summary", language="en").body
    assert "Blue screens on the trading terminals." in body
    assert "A driver wrote to read-only memory." in body
    assert "The customer confirmed the problem is solved." in body
    assert placeholders_in(body) == []


def test_language_follows_the_customer_contact(reference_case, customer):
    assert document_language(case=reference_case) == "en"
    customer.language = "zh-hans"
    customer.save()
    reference_case.refresh_from_db()
    assert document_language(case=reference_case) == "zh-hans"
    assert document_draft(case=reference_case, kind="scope", language="").language == "zh-hans"
    assert document_language(case=reference_case, requested="en") == "en"
    assert document_language(case=reference_case, requested="fr") == "zh-hans"


def test_text_to_html_escapes_everything():
    html = str(
        text_to_html(
            '<script>alert(1)</script>\n| a | <b> |\n|---|---|\n| x | "y" |\nhttps://e.test/?a=1&b=2'
        )
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<th>&lt;b&gt;</th>" in html
    assert 'href="https://e.test/?a=1&amp;b=2"' in html or 'href="https://e.test/?a=1"' in html


def test_links_stop_at_the_address():
    html = str(
        text_to_html(
            "页面（http://127.0.0.1:8000/cases/X/upload/），并及时联系。\n(see https://e.test/a?b=1&c=2)."
        )
    )
    assert '<a href="http://127.0.0.1:8000/cases/X/upload/">' in html
    assert "），并及时联系。" in html
    assert '<a href="https://e.test/a?b=1&amp;c=2">' in html
