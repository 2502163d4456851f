"""Communications in a real browser: the engineer drafts, edits and sends the findings message; the
customer reads it in the portal and accepts the scope. Saves the screenshots of docs/communications.md."""

from __future__ import annotations

import pytest
from django.core import mail
from django.utils import timezone

from analysis.models import AnalysisJob, Crash, Finding
from communications import services
from communications.models import SentDocument
from config.celery import app
from tests.communications.conftest import CRASHES, FINDINGS, make_upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


EDITED_LINE = "Please run mdsched tonight and tell us the result tomorrow."


@pytest.fixture
def analysed_case(scoped_case, customer, engineer, monkeypatch):
    """The reference case with analysed uploads, requested evidence, and tasks run in-process."""

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    dump = make_upload(scoped_case, filename="031023-12515-01.dmp", kind="kernel_dump", by=customer)
    log = make_upload(scoped_case, filename="System.evtx", kind="evtx", by=customer)
    for upload in (dump, log):
        AnalysisJob.objects.create(
            upload=upload, state="done", queued_at=timezone.now(), finished_at=timezone.now()
        )
    for index, (when, code, name, process, culprit, drivers) in enumerate(CRASHES):
        Crash.objects.create(
            upload=dump if index == 0 else log,
            case=scoped_case,
            index=index,
            crash_time=when,
            code=code,
            name=name,
            process_name=process,
            culprit_module=culprit,
            third_party_drivers=list(drivers),
        )
    for seq, data in enumerate(FINDINGS):
        Finding.objects.create(case=scoped_case, seq=seq, **data)
    for preset in ("minidumps", "memory_dmp", "system_log"):
        services.evidence_item_add(actor=engineer, case=scoped_case, preset=preset)
    return scoped_case


def test_engineer_sends_findings_and_customer_reads_them_and_accepts_the_scope(
    page, live_server, sign_in, analysed_case, customer, engineer, shots
):
    number = analysed_case.number
    sign_in("engineer")
    page.goto(f"{live_server.url}/cases/{number}/")
    page.click("a[data-document=findings]")
    page.wait_for_selector("textarea[name=body]")
    assert "0x000000be" in page.input_value("textarea[name=body]")
    page.screenshot(path=str(shots / "document-findings-en.png"), full_page=True)

    page.click("a[data-language=zh-hans]")
    page.wait_for_selector(".active-language[lang=zh-hans]")
    assert "蓝屏记录" in page.input_value("textarea[name=body]")
    page.screenshot(path=str(shots / "document-findings-zh.png"), full_page=True)

    page.click("a[data-language=en]")
    page.wait_for_selector(".active-language[lang=en]")
    body = page.input_value("textarea[name=body]")
    page.fill("textarea[name=body]", body.replace("Kind regards,", f"{EDITED_LINE}\n\nKind regards,"))
    page.click("#document-send")
    page.wait_for_selector("text=Sent to the customer and added to the timeline.")
    page.screenshot(path=str(shots / "case-engineer.png"), full_page=True)

    document = SentDocument.objects.get(case=analysed_case, kind="findings")
    assert EDITED_LINE in document.body
    # The customer was also told of the three files asked for in the fixture; one e-mail is the document.
    sent = [m for m in mail.outbox if m.to == [customer.email] and m.subject == document.subject]
    assert len(sent) == 1 and EDITED_LINE in sent[0].body and "0x000000be" in sent[0].body

    page.context.clear_cookies()
    sign_in("alice")
    page.goto(f"{live_server.url}/cases/{number}/")
    # The document is one timeline entry, rendered as the e-mail read; the panel lists and links it.
    assert page.is_visible(f"#timeline >> text={EDITED_LINE}")
    assert page.is_visible("#timeline table.doc-table >> text=ATTEMPTED_WRITE_TO_READONLY_MEMORY")
    page.click("#fold-messages > summary")  # folded for customers: the documents are on the timeline
    assert page.is_visible(f"#documents a[href='#entry-{document.timeline_entry_id}']")
    page.click("text=Accept the scope")
    page.wait_for_selector("text=your answer to the scope is recorded")
    assert page.is_visible(".ack-accepted")
    page.screenshot(path=str(shots / "case-customer.png"), full_page=True)

    page.goto(f"{live_server.url}/cases/{number}/upload/")
    assert page.locator("#evidence-checklist li.received").count() == 2
    assert page.locator("#evidence-checklist li.missing").count() == 1


def test_scope_message_in_chinese_for_a_chinese_contact(
    page, live_server, sign_in, analysed_case, customer, shots
):
    customer.language = "zh-hans"
    customer.save()
    sign_in("engineer")
    page.goto(f"{live_server.url}/cases/{analysed_case.number}/documents/scope/")
    page.wait_for_selector(".active-language[lang=zh-hans]")
    text = page.input_value("textarea[name=body]")
    assert "问题定义" in text and "C:\\Windows\\Minidump" in text
    page.screenshot(path=str(shots / "document-scope-zh.png"), full_page=True)
