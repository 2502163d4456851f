"""The staff queue in a real browser: an engineer finds an unknown sender's e-mail at /mail/, reads it and
adds it to a case, where it shows as an entry that came by e-mail. With PORTAL_SCREENSHOTS=1 the
screenshots go to docs/screenshots (mail-queue.png, mail-message.png, mail-added-to-case.png)."""

from __future__ import annotations

import pytest

from config.celery import app
from inbound.models import InboundMessage
from tests.inbound.conftest import SUPPORT, email, process, receive
from tests.samples import SAMPLES_DIR

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _system_log() -> bytes:
    """The shared samples' System log when present (analysed for real), else a stand-in of the right kind."""
    path = SAMPLES_DIR / "evtx" / "python-evtx__system.evtx"
    return path.read_bytes() if path.exists() else b"ElfFile\0" + b"\0" * 4000


@pytest.fixture
def stranger_mail(settings, monkeypatch) -> InboundMessage:

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    settings.INBOUND_DOMAIN = "support.example.com"
    settings.INBOUND_SUPPORT_ADDRESS = SUPPORT
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    raw = email(
        to=SUPPORT,
        sender="李娜 <li.na@partner.example.cn>",
        subject="门店收银机蓝屏 0x7E",
        body="您好，\n我们门店的收银机开机后蓝屏，错误代码 0x7E，日志见附件。\n\n李娜\n合作伙伴技术部",
        files=[("System.evtx", _system_log())],
    )
    return process(receive(raw, to=[SUPPORT], mail_from="li.na@partner.example.cn"))


def test_engineer_adds_an_unknown_senders_mail_to_a_case(
    page, live_server, sign_in, stranger_mail, case, shots
):
    assert stranger_mail.state == InboundMessage.State.QUEUED
    sign_in("engineer")
    page.click("nav.mainnav >> text=Mail")
    page.wait_for_selector(f"tr[data-message='{stranger_mail.pk}']")
    row = page.locator(f"tr[data-message='{stranger_mail.pk}']")
    assert "门店收银机蓝屏 0x7E" in row.inner_text()
    assert "The sender is not a customer user of the portal" in row.inner_text()
    page.screenshot(path=str(shots / "mail-queue.png"), full_page=True)

    row.locator("a").first.click()
    page.wait_for_selector("#attach")
    assert "我们门店的收银机开机后蓝屏" in page.inner_text(".mail-text")
    assert "System.evtx" in page.inner_text(".mail-files")
    page.fill("#id_case_number", case.number)
    page.screenshot(path=str(shots / "mail-message.png"), full_page=True)
    page.click("#attach button[type=submit]")

    page.wait_for_url(f"{live_server.url}/cases/{case.number}/**")
    stranger_mail.refresh_from_db()
    entry = page.locator(f"#entry-{stranger_mail.timeline_entry_id}")
    entry.scroll_into_view_if_needed()
    text = entry.inner_text()
    assert "by e-mail" in text and "李娜 <li.na@partner.example.cn>" in text and "0x7E" in text
    assert entry.locator("a", has_text="original e-mail").count() == 1
    page.screenshot(path=str(shots / "mail-added-to-case.png"), full_page=True)
    assert stranger_mail.state == InboundMessage.State.ATTACHED
