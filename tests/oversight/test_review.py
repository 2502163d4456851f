"""Managers' review: approve with the checklist, return with a comment, the engineer's new version,
and the CSV and PDF exports."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess

import pytest

from cases import services as case_services
from cases.errors import InvalidInput, InvalidState, NotAllowed
from cases.models import AuditEvent
from oversight import services
from oversight.models import SummaryReview

pytestmark = pytest.mark.django_db

CHECKED = dict.fromkeys(SummaryReview.CHECKLIST, True)
CHINESE = "客户终端频繁蓝屏，错误代码 0xBE。内存诊断发现 DIMM 2 故障，更换后问题解决。"


@pytest.fixture
def closed_case(case, engineer):
    case_services.case_close(
        actor=engineer,
        case=case,
        problem_description="Terminals crash with 0xBE.",
        analysis="SfUemIsoSpace.sys in every dump.",
        resolution="Driver updated; the customer confirmed by phone.",
        resolution_type="third_party",
    )
    return case


def test_approve_needs_the_whole_checklist(closed_case, manager):
    summary = closed_case.summaries.get()
    with pytest.raises(InvalidInput):
        services.summary_review(
            actor=manager, summary=summary, approve=True, checklist={"problem_stated": True}
        )
    review = services.summary_review(actor=manager, summary=summary, approve=True, checklist=CHECKED)
    assert review.decision == "approved" and review.confirmation_recorded
    with pytest.raises(InvalidState):
        services.summary_review(actor=manager, summary=summary, approve=True, checklist=CHECKED)


def test_only_managers_review(closed_case, engineer):
    with pytest.raises(NotAllowed):
        services.summary_review(
            actor=engineer, summary=closed_case.summaries.get(), approve=True, checklist=CHECKED
        )


def test_return_and_rewrite_keeps_both_versions(closed_case, manager, engineer, client):
    first = closed_case.summaries.get()
    with pytest.raises(InvalidInput):
        services.summary_review(actor=manager, summary=first, approve=False, comment="  ")
    with pytest.raises(InvalidState):  # nothing to rewrite before a manager returns it
        services.summary_rewrite(
            actor=engineer,
            case=closed_case,
            problem_description="p",
            analysis="a",
            resolution="r",
            resolution_type="resolved",
        )
    services.summary_review(actor=manager, summary=first, approve=False, comment="Cite the dump you read.")
    assert closed_case.audit_events.filter(action="summary_returned").exists()

    client.force_login(engineer)
    page = client.get(f"/cases/{closed_case.number}/").content.decode()
    assert "Cite the dump you read." in page and "Rewrite the summary" in page
    response = client.post(
        f"/cases/{closed_case.number}/summary/rewrite/",
        {
            "problem_description": "Terminals crash with 0xBE.",
            "analysis": "Mini031023-01.dmp: 0xBE in smss.exe, SfUemIsoSpace.sys loaded.",
            "resolution": "Driver updated; the customer confirmed by phone.",
            "resolution_type": "third_party",
        },
    )
    assert response.status_code == 302
    assert list(closed_case.summaries.values_list("version", flat=True)) == [2, 1]
    assert SummaryReview.objects.get(summary=first).decision == "returned"
    page = client.get(f"/cases/{closed_case.number}/").content.decode()
    assert "Waiting for a manager's review." in page and "Earlier versions" in page


def test_review_queue_filters_by_review_state_and_decides(client, closed_case, manager):
    client.force_login(manager)
    assert closed_case.number in client.get("/review/?review_state=pending").content.decode()
    response = client.post(
        f"/review/{closed_case.number}/decide/",
        {
            "decision": "return",
            "comment": "Say how the customer confirmed.",
            "next": "/review/?review_state=pending",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/review/?review_state=pending"
    item = f'data-case="{closed_case.number}"'
    assert item not in client.get("/review/?review_state=pending").content.decode()
    assert item in client.get("/review/?review_state=returned").content.decode()
    # An outside "next" is not followed.
    assert (
        client.post(
            f"/review/{closed_case.number}/decide/", {"decision": "approve", "next": "https://example.org/"}
        )["Location"]
        == "/review/"
    )


def test_csv_export_holds_the_filtered_rows(client, manager, engineer, organisation, closed_case):
    other = case_services.case_create(
        actor=engineer, organisation=organisation, title="Other", owner=engineer
    )
    case_services.case_close(
        actor=engineer,
        case=other,
        problem_description=CHINESE,
        analysis="a",
        resolution="r",
        resolution_type="resolved",
    )
    client.force_login(manager)
    response = client.get("/review/export.csv?resolution_type=third_party")
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "Case number" and len(rows) == 2
    assert rows[1][0] == closed_case.number and rows[1][8] == "Waiting for review"
    everything = b"".join(client.get("/review/export.csv").streaming_content).decode("utf-8-sig")
    assert other.number in everything and closed_case.number in everything


def test_pdf_of_a_chinese_summary_opens_and_holds_the_text(client, manager, engineer, case, tmp_path):
    case_services.case_close(
        actor=engineer,
        case=case,
        problem_description=CHINESE,
        analysis="分析：内存故障。",
        resolution="更换内存。",
        resolution_type="resolved",
    )
    client.force_login(manager)
    response = client.get(f"/review/{case.number}/summary.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    if not shutil.which("pdftotext"):
        pytest.skip("poppler-utils is not installed")
    path = tmp_path / "summary.pdf"
    path.write_bytes(response.content)
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert case.number in text
    assert "DIMM 2" in text and "更换内存" in text.replace("\n", "")


def test_customer_cannot_download_the_pdf(client, customer, engineer, case):
    case_services.case_close(
        actor=engineer,
        case=case,
        problem_description="p",
        analysis="a",
        resolution="r",
        resolution_type="resolved",
    )
    client.force_login(customer)
    assert client.get(f"/review/{case.number}/summary.pdf").status_code == 403


def test_exports_are_audited(client, manager, engineer, closed_case):

    client.force_login(manager)
    assert client.get("/review/export.csv?resolution_type=resolved").status_code == 200
    assert client.get(f"/review/{closed_case.number}/summary.pdf").status_code == 200
    assert client.get("/audit/export.csv").status_code == 200
    actions = set(AuditEvent.objects.filter(actor=manager).values_list("action", flat=True))
    assert {"export_review_csv", "export_summary_pdf", "export_audit_csv"} <= actions
