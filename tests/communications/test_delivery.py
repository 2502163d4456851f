"""An e-mail that cannot be sent is retried with backoff, then shown as not delivered on the case."""

from __future__ import annotations

from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend

from cases import services as case_services
from cases.models import AuditEvent, TimelineEntry
from cases.selectors import case_timeline_for_user
from communications.models import EmailDelivery
from communications.tasks import EMAIL_MAX_RETRIES, email_deliver, notify_case_event

pytestmark = pytest.mark.django_db

CALLS: list[str] = []


class DownBackend(BaseEmailBackend):
    """A mail server that drops every connection."""

    def send_messages(self, messages):
        CALLS.append(messages[0].to[0])
        raise SMTPServerDisconnected("Connection unexpectedly closed")


class FlakyBackend(BaseEmailBackend):
    """Down for the first two attempts, then up."""

    def send_messages(self, messages):
        CALLS.append(messages[0].to[0])
        if len(CALLS) <= 2:
            raise ConnectionRefusedError("Connection refused")

        mail.outbox.extend(messages)
        return len(messages)


@pytest.fixture(autouse=True)
def _reset_calls():
    CALLS.clear()


def test_failed_email_is_retried_then_marked_not_delivered(
    settings, eager, case, customer, engineer, client, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.communications.test_delivery.DownBackend"
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    event = AuditEvent.objects.get(action="message_added")
    with django_capture_on_commit_callbacks(execute=True):  # the retries are published after the commit
        assert notify_case_event(event.pk) == 0  # first attempt inline fails: handed to email_deliver
    delivery = EmailDelivery.objects.get(event=event)
    assert delivery.state == EmailDelivery.State.FAILED
    assert delivery.attempts == 1 + EMAIL_MAX_RETRIES + 1
    assert len(CALLS) == delivery.attempts
    assert "SMTPServerDisconnected" in delivery.last_error
    entry = TimelineEntry.objects.get(case=case, kind=TimelineEntry.Kind.SYSTEM)
    assert entry.internal is True and "not delivered" in entry.body and engineer.email in entry.body
    # Staff see it on the case (timeline and the communications panel); the customer does not.
    assert entry in case_timeline_for_user(user=engineer, case=case)
    assert entry not in case_timeline_for_user(user=customer, case=case)
    client.force_login(engineer)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "delivery-failed" in page


def test_transient_failure_then_success_sends_once(
    settings, eager, case, customer, engineer, mailoutbox, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.communications.test_delivery.FlakyBackend"
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    with django_capture_on_commit_callbacks(execute=True):
        notify_case_event(AuditEvent.objects.get(action="message_added").pk)
    delivery = EmailDelivery.objects.get()
    assert delivery.state == EmailDelivery.State.SENT
    assert delivery.attempts == 3
    assert len(mailoutbox) == 1
    assert not TimelineEntry.objects.filter(kind=TimelineEntry.Kind.SYSTEM).exists()


def test_sent_email_is_never_sent_again(case, customer, engineer, mailoutbox):
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    notify_case_event(AuditEvent.objects.get(action="message_added").pk)
    delivery = EmailDelivery.objects.get()
    assert email_deliver(delivery.pk) is False
    assert len(mailoutbox) == 1
