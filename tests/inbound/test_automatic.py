"""Automatic mail (out-of-office replies, bounces, read receipts, lists) is recorded and never posted nor
answered; two out-of-office responders answering each other's e-mails through the portal stop at once."""

from __future__ import annotations

import pytest
from django.core import mail as django_mail

from cases import services as case_services
from cases.models import TimelineEntry
from communications.models import EmailDelivery
from inbound import addresses
from inbound.models import InboundMessage
from tests.inbound.conftest import SUPPORT, deliver, email, notify_latest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"X-Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"Precedence": "list"},
        {"List-Id": "<announce.example.com>"},
    ],
    ids=lambda h: next(iter(h.items()))[0] + "=" + next(iter(h.items()))[1],
)
def test_automatic_reply_to_a_reply_address_is_recorded_only(case, customer, mailoutbox, headers):
    address = addresses.reply_address_for(case=case, user=customer)
    message = deliver(
        email(to=address, subject="Automatic reply: x", body="I am away.", headers=headers), to=address
    )
    assert (message.state, message.reason) == (InboundMessage.State.IGNORED, InboundMessage.Reason.AUTOMATIC)
    assert message.detail and not TimelineEntry.objects.filter(case=case, via="email").exists()
    assert mailoutbox == [] and not EmailDelivery.objects.exists()


def test_bounce_with_null_sender_is_recorded_only(case, customer, mailoutbox):
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\nTo: " + SUPPORT.encode() + b"\r\n"
        b"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-1@mx.example.com>\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"
        b"--r\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you...\r\n--r--\r\n"
    )
    message = deliver(raw, to=SUPPORT, mail_from="<>")
    assert (message.state, message.detail) == (InboundMessage.State.IGNORED, "bounce")
    assert mailoutbox == []


def test_out_of_office_reply_goes_back_and_forth_and_stops(mailoutbox, scoped_case, customer, engineer):
    """The customer and the engineer are both away, each with a responder that answers every e-mail it
    receives (the naive kind: it answers automatic mail too) with one marked as RFC 3834 says. The
    portal mails each of them; their responders answer to the reply addresses; the portal must neither
    post nor answer, so the exchange ends at the first round."""

    def out_of_office(sent: django_mail.EmailMessage, person) -> bytes:
        return email(
            to=sent.reply_to[0],
            sender=person.email,
            subject="Automatic reply: " + sent.subject,
            body=f"{person} is out of the office until Monday.",
            headers={"Auto-Submitted": "auto-replied", "In-Reply-To": sent.extra_headers["Message-ID"]},
        )

    people = {customer.email: customer, engineer.email: engineer}
    case_services.timeline_add(actor=engineer, case=scoped_case, body="Please upload the dump.")
    notify_latest("message_added")
    answered = 0
    for _round in range(10):  # bounded: a loop would go on; the assertion below says it did not
        pending = list(django_mail.outbox[answered:])
        answered = len(django_mail.outbox)
        if not pending:
            break
        for sent in pending:
            if sent.reply_to:
                deliver(out_of_office(sent, people[sent.to[0]]), to=sent.reply_to[0], mail_from=sent.to[0])
    assert _round == 1  # the portal's one e-mail, its one automatic answer, and silence
    assert len(django_mail.outbox) == 1
    assert InboundMessage.objects.filter(state=InboundMessage.State.IGNORED).count() == 1
    assert TimelineEntry.objects.filter(case=scoped_case, via="email").count() == 0


def test_unmarked_responder_is_caught_by_its_subject_and_by_the_hourly_limit(
    settings, mailoutbox, case, customer
):
    """A responder that marks nothing but its subject is recognised; and even one that marks nothing at
    all gets at most INBOUND_AUTO_ANSWERS_PER_HOUR automatic answers an hour from the portal."""
    address = addresses.reply_address_for(case=case, user=customer)
    message = deliver(email(to=address, subject="自动回复: 蓝屏", body="我正在休假。"), to=address)
    assert message.state == InboundMessage.State.IGNORED
    # The case closed: each unmarked "reply" would be answered with "this case is closed".
    case.state, case.closed_at = "closed", __import__("django.utils.timezone").utils.timezone.now()
    case.save()
    for n in range(settings.INBOUND_AUTO_ANSWERS_PER_HOUR + 3):
        deliver(
            email(to=address, subject="Re: x", body=f"away {n}", message_id=f"<away-{n}@example.com>"),
            to=address,
        )
    assert len(mailoutbox) == settings.INBOUND_AUTO_ANSWERS_PER_HOUR
    last = InboundMessage.objects.latest("received_at", "id")
    assert "too many automatic answers" in last.detail
