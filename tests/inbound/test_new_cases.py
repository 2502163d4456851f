"""Mail to the support address: a customer's opens a case for their organisation (acknowledged with the
number); anyone else's, or a customer's the site's own mail server does not vouch for, waits for staff."""

from __future__ import annotations

import pytest

from cases.models import AuditEvent, Case, State
from inbound import addresses
from inbound.models import InboundMessage
from tests.factories import CustomerFactory, UserFactory
from tests.inbound.conftest import AUTHSERV, SUPPORT, deliver, email, sent_to
from uploads.models import Upload

pytestmark = pytest.mark.django_db
Reason = InboundMessage.Reason


def test_customer_mail_opens_a_case_and_is_acknowledged(customer, organisation, account_manager, mailoutbox):
    raw = email(
        to=SUPPORT,
        subject="Fwd: 多台终端蓝屏 0xBE",
        body="Since Monday four terminals crash with 0xBE.\nSee the log attached.",
        files=[("System.evtx", b"ElfFile\0" + b"\0" * 200)],
    )
    message = deliver(raw, to=SUPPORT)
    assert message.state == InboundMessage.State.CASE_OPENED
    case = message.case
    assert (case.title, case.organisation, case.customer_contact, case.owner, case.state) == (
        "多台终端蓝屏 0xBE", organisation, customer, None, State.NEW
    )  # fmt: skip
    assert case.description.startswith("Since Monday four terminals crash with 0xBE.")
    assert AuditEvent.objects.get(case=case, action="case_opened").data["via"] == "email"
    upload = Upload.objects.get(case=case)
    assert (upload.filename, upload.uploaded_by) == ("System.evtx", customer)
    [ack] = sent_to(customer.email)
    assert case.number in ack.subject and case.number in ack.body
    assert f"https://portal.example.com/cases/{case.number}/" in ack.body and "System.evtx" in ack.body
    assert ack.reply_to == [addresses.reply_address_for(case=case, user=customer)]
    assert ack.extra_headers["In-Reply-To"] == f"<{message.message_id}>"
    assert ack.extra_headers["Auto-Submitted"] == "auto-replied"
    assert [m.to for m in sent_to(account_manager.email)]  # the organisation's account manager hears of it


def test_acknowledgement_is_in_the_customers_language(customer, mailoutbox):
    customer.language = "zh-hans"
    customer.save()
    message = deliver(email(to=SUPPORT, subject="蓝屏"), to=SUPPORT)
    [ack] = sent_to(customer.email)
    assert message.case.number in ack.subject and "我们已收到您的请求" in ack.subject


def test_unknown_sender_waits_for_staff_unanswered(mailoutbox, db):
    message = deliver(
        email(to=SUPPORT, sender="someone@unknown.example"), to=SUPPORT, mail_from="someone@unknown.example"
    )
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.UNKNOWN_SENDER)
    assert not Case.objects.exists() and mailoutbox == []  # no backscatter to addresses we do not know


def test_staff_writing_to_the_support_address_waits_for_staff(engineer, mailoutbox):
    message = deliver(email(to=SUPPORT, sender=engineer.email), to=SUPPORT, mail_from=engineer.email)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.STAFF_SENDER)


def test_two_customers_with_one_address_wait_for_staff(customer, other_organisation, mailoutbox):
    CustomerFactory(username="alice2", email=customer.email, organisation=other_organisation)
    message = deliver(email(to=SUPPORT, sender=customer.email), to=SUPPORT)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.AMBIGUOUS_SENDER)


def test_inactive_customer_is_unknown(customer, mailoutbox):
    customer.is_active = False
    customer.save()
    message = deliver(email(to=SUPPORT, sender=customer.email), to=SUPPORT)
    assert message.reason == Reason.UNKNOWN_SENDER


def test_forged_from_of_a_real_customer_waits_for_staff_when_auth_is_required(settings, customer, mailoutbox):
    settings.INBOUND_REQUIRE_AUTH = True
    # The forger writes a "pass" of their own into the message ...
    forged = email(
        to=SUPPORT,
        sender=customer.email,
        headers={"Authentication-Results": f"{AUTHSERV}; dkim=pass header.d=example.com"},
    )
    # ... and our MTA prepends its own verdict above everything the sender wrote.
    forged = (
        f"Authentication-Results: {AUTHSERV}; spf=fail smtp.mailfrom=evil@evil.example; dkim=none\r\n".encode()
        + forged
    )
    message = deliver(forged, to=SUPPORT, mail_from="evil@evil.example")
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.UNAUTHENTICATED)
    assert not Case.objects.exists() and mailoutbox == []


def test_customer_vouched_for_by_our_mail_server_opens_a_case(settings, customer, mailoutbox):
    settings.INBOUND_REQUIRE_AUTH = True
    raw = email(to=SUPPORT, sender=customer.email, subject="Blue screens")
    # Our MTA prepends its verdict above everything the sender wrote.
    raw = (
        f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.com; spf=pass smtp.mailfrom={customer.email}\r\n".encode()
        + raw
    )
    message = deliver(raw, to=SUPPORT)
    assert message.state == InboundMessage.State.CASE_OPENED and message.case.title == "Blue screens"


def test_require_auth_without_an_authserv_id_opens_nothing(settings, customer, mailoutbox):
    settings.INBOUND_REQUIRE_AUTH = True
    settings.INBOUND_AUTHSERV_ID = ""
    raw = f"Authentication-Results: {AUTHSERV}; dkim=pass header.d=example.com\r\n".encode() + email(
        to=SUPPORT
    )
    message = deliver(raw, to=SUPPORT)
    assert message.reason == Reason.UNAUTHENTICATED and "INBOUND_AUTHSERV_ID" in message.detail


def test_mail_without_subject_takes_its_first_line(customer, mailoutbox):
    message = deliver(
        email(to=SUPPORT, subject="", body="\n\nPrinter server crashes nightly\nmore"), to=SUPPORT
    )
    assert message.case.title == "Printer server crashes nightly"


def test_oversized_request_is_refused_with_instructions(settings, customer, mailoutbox):
    settings.INBOUND_MAX_MESSAGE_SIZE = 10_000
    message = deliver(email(to=SUPPORT, files=[("MEMORY.DMP", b"\0" * 20_000)]), to=SUPPORT)
    assert (message.state, message.reason) == (InboundMessage.State.REFUSED, Reason.TOO_LARGE)
    assert not Case.objects.exists()
    [answer] = sent_to(customer.email)
    assert "without the files" in answer.body and "https://portal.example.com/cases/" in answer.body


def test_oversized_mail_from_an_unknown_sender_waits_for_staff(settings, db, mailoutbox):
    settings.INBOUND_MAX_MESSAGE_SIZE = 10_000
    raw = email(to=SUPPORT, sender="x@unknown.example", files=[("a.bin", b"\0" * 20_000)])
    message = deliver(raw, to=SUPPORT, mail_from="x@unknown.example")
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.UNKNOWN_SENDER)
    assert mailoutbox == []


def test_account_manager_is_not_a_customer(organisation, mailoutbox):
    tam = UserFactory(username="tam2", role="account_manager")
    message = deliver(email(to=SUPPORT, sender=tam.email), to=SUPPORT, mail_from=tam.email)
    assert message.reason == Reason.STAFF_SENDER
