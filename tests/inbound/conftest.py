"""Mail in: the portal's addresses for the tests, e-mails built as real clients build them, a real aiosmtpd
listener on a free port, and helpers that read what was received as the worker does."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate

import pytest
from django.core import mail as django_mail
from django.test import TestCase

from cases.models import AuditEvent
from communications.tasks import notify_case_event
from config.celery import app
from inbound import tasks as inbound_tasks
from inbound.models import InboundMessage
from inbound.receiving import inbound_message_receive
from inbound.smtp import listener_start

DOMAIN = "support.example.com"
SUPPORT = f"help@{DOMAIN}"
AUTHSERV = "mx.support.example.com"


@pytest.fixture(autouse=True)
def _inbound_settings(settings):
    settings.INBOUND_DOMAIN = DOMAIN
    settings.INBOUND_SUPPORT_ADDRESS = SUPPORT
    settings.INBOUND_REQUIRE_AUTH = False
    settings.INBOUND_AUTHSERV_ID = AUTHSERV
    settings.SITE_URL = "https://portal.example.com"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def email(
    *,
    to: str,
    sender: str = "Alice Chen <alice@example.com>",
    subject: str = "Re: the blue screens",
    body: str = "Hello",
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    files: list[tuple[str, bytes]] | None = None,
    html: str | None = None,
) -> bytes:
    """An e-mail as a mail client sends it (UTF-8, quoted-printable or base64 as Python's email picks)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = message_id or f"<{socket.gethostname()}.{id(message)}.{free_port()}@example.com>"
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, data in files or []:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=filename)
    return message.as_bytes(policy=SMTP)


def reply_to_notification(
    sent: django_mail.EmailMessage,
    *,
    body: str,
    sender: str | None = None,
    files: list[tuple[str, bytes]] | None = None,
) -> tuple[str, bytes]:
    """The recipient pressing Reply on a notification the portal sent: to its Reply-To, threaded under its
    Message-ID, the original quoted below as mail clients do. Returns (the address, the raw reply)."""
    address = sent.reply_to[0]
    quoted = "\n".join("> " + line for line in sent.body.splitlines())
    reply = email(
        to=address,
        sender=sender or sent.to[0],
        subject="Re: " + sent.subject,
        body=f"{body}\n\nOn Mon, 13 Mar 2023 at 09:12, Support <support@localhost> wrote:\n{quoted}\n",
        headers={
            "In-Reply-To": sent.extra_headers["Message-ID"],
            "References": sent.extra_headers["Message-ID"],
        },
        files=files,
    )
    return address, reply


def receive(
    raw: bytes, *, to: list[str] | None = None, mail_from: str = "alice@example.com"
) -> InboundMessage:
    """Store a message as the listener does (without the network)."""
    message, _created = inbound_message_receive(
        raw=raw, via=InboundMessage.Via.SMTP, envelope_from=mail_from, envelope_to=to or []
    )
    return message


def process(message: InboundMessage) -> InboundMessage:
    """Run the worker's task on it, as the worker would, with what it queues after its commits (answers,
    notifications, analysis) run at once too, and read it back."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        inbound_tasks.inbound_process(message.pk)
    message.refresh_from_db()
    return message


def deliver(raw: bytes, *, to: str, mail_from: str = "alice@example.com") -> InboundMessage:
    """Receive and read one message."""
    return process(receive(raw, to=[to], mail_from=mail_from))


@pytest.fixture
def queued(monkeypatch) -> list[int]:
    """The ids of the messages whose reading was queued (instead of sending the task to a broker)."""
    ids: list[int] = []
    # The outbox publishes with apply_async; the reconciler with delay, which calls it too.
    monkeypatch.setattr(
        inbound_tasks.inbound_process,
        "apply_async",
        lambda args=None, kwargs=None, **options: ids.append(args[0]),
    )
    return ids


@dataclass
class Listener:
    port: int
    queued: list[int]

    def send(self, raw: bytes, *, to: list[str], mail_from: str = "alice@example.com") -> dict:
        """Send through the listener with smtplib; returns the refused recipients (SMTP raises on others)."""
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            return client.sendmail(mail_from, to, raw)


@pytest.fixture
def listener(queued, transactional_db) -> Iterator[Listener]:
    """The real aiosmtpd listener on a free port of 127.0.0.1; the test's database is shared with its
    threads, hence a transactional test."""
    port = free_port()
    controller = listener_start(host="127.0.0.1", port=port)
    try:
        yield Listener(port=port, queued=queued)
    finally:
        controller.stop()


def sent_to(address: str) -> list[django_mail.EmailMessage]:
    return [message for message in django_mail.outbox if address in message.to]


def notify_latest(action: str) -> None:
    """Run the notification task of the latest event of this kind, as the worker does after the commit."""

    notify_case_event(AuditEvent.objects.filter(action=action).latest("created_at", "id").pk)


@pytest.fixture(autouse=True)
def eager(monkeypatch):
    """Tasks queued after a commit run at once in the test's process (analysis, e-mails, notifications),
    as a worker would run them; never a message to a broker outside the test."""

    monkeypatch.setitem(app.conf, "task_always_eager", True)
    monkeypatch.setitem(app.conf, "task_eager_propagates", True)
    return app


MINIDUMP = "kernel_dump/rizin-testbins__triage_x64.dmp"
