"""The real aiosmtpd listener on a free port: it stores the raw message and queues its reading, nothing
more; what a sending server hears for each case."""

from __future__ import annotations

import os
import signal
import smtplib
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inbound import smtp
from inbound.addresses import reply_address_for
from inbound.models import InboundMessage
from inbound.receiving import inbound_raw_read
from inbound.smtp import listener_start
from tests.inbound.conftest import DOMAIN, SUPPORT, email, free_port, process

pytestmark = pytest.mark.django_db(transaction=True)


def test_listener_stores_the_raw_message_and_queues_it(listener):
    raw = email(to=SUPPORT, body="Our terminals crash with 0xBE.")
    assert listener.send(raw, to=[SUPPORT]) == {}
    message = InboundMessage.objects.get()
    assert listener.queued == [message.pk]
    assert message.state == InboundMessage.State.RECEIVED  # the listener reads nothing
    assert message.from_address == "" and message.case is None
    assert message.envelope_from == "alice@example.com" and message.envelope_to == [SUPPORT]
    assert inbound_raw_read(message=message) == raw
    assert message.size == len(raw) and message.peer == "127.0.0.1"


def test_foreign_recipients_are_refused_at_rcpt(listener):
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        listener.send(email(to="someone@elsewhere.example"), to=["someone@elsewhere.example"])
    assert refused.value.recipients["someone@elsewhere.example"][0] == 550
    refused_here = listener.send(email(to=SUPPORT), to=[SUPPORT, f"root@{DOMAIN}"])
    assert refused_here[f"root@{DOMAIN}"][0] == 550  # no open relay, no other mailbox of our domain
    assert InboundMessage.objects.get().envelope_to == [SUPPORT]


def test_the_same_message_twice_is_stored_once(listener):
    raw = email(to=SUPPORT, message_id="<once@example.com>")
    listener.send(raw, to=[SUPPORT])
    listener.send(raw, to=[SUPPORT])  # the sender's server retried after a lost 250
    listener.send(raw.replace(b"Subject: Re:", b"Subject: Fwd:"), to=[SUPPORT])  # same Message-ID, new copy
    assert InboundMessage.objects.count() == 1
    assert len(listener.queued) == 1


def test_message_over_the_hard_limit_is_refused_with_552(settings, listener):
    settings.INBOUND_SMTP_SIZE_LIMIT = 200_000
    controller = listener_start(host="127.0.0.1", port=(port := free_port()))  # picks up the new limit
    try:
        raw = email(to=SUPPORT, files=[("MEMORY.DMP", b"\0" * 300_000)])
        with smtplib.SMTP("127.0.0.1", port) as client, pytest.raises(smtplib.SMTPException) as error:
            client.sendmail("alice@example.com", [SUPPORT], raw)
        assert "552" in str(error.value)
    finally:
        controller.stop()
    assert not InboundMessage.objects.exists()


def test_a_message_that_cannot_be_stored_is_deferred_and_nothing_is_lost(listener, monkeypatch):

    def broken(**kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(smtp, "inbound_message_receive", broken)
    raw = email(to=SUPPORT, message_id="<later@example.com>")
    with pytest.raises(smtplib.SMTPDataError) as deferred:
        listener.send(raw, to=[SUPPORT])
    assert deferred.value.smtp_code == 451  # the sending server keeps it and tries again
    monkeypatch.undo()
    listener.send(raw, to=[SUPPORT])
    assert InboundMessage.objects.filter(message_id="later@example.com").count() == 1


def test_lmtp_answers_once_per_recipient(queued, transactional_db, case, customer):

    port = free_port()
    controller = listener_start(host="127.0.0.1", port=port, lmtp=True)
    try:
        address = reply_address_for(case=case, user=customer)
        client = smtplib.LMTP("127.0.0.1", port)
        client.ehlo()  # LHLO
        client.mail("alice@example.com")
        assert client.rcpt(SUPPORT)[0] == 250 and client.rcpt(address)[0] == 250
        first = client.data(email(to=address))
        second = client.getreply()  # RFC 2033: one answer per recipient (smtplib reads only the first)
        assert first[0] == second[0] == 250
        client.quit()
    finally:
        controller.stop()
    message = InboundMessage.objects.get()
    assert message.via == "lmtp" and message.envelope_to == [SUPPORT, address]
    assert process(message).state == InboundMessage.State.POSTED  # the reply address wins over support


def test_management_command_serves_until_stopped(tmp_path):
    """`manage.py inbound_smtp` (what make run starts) answers SMTP and stops on SIGTERM."""

    root = Path(__file__).resolve().parents[2]
    port = free_port()
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(tmp_path),
        "INBOUND_DOMAIN": DOMAIN,
        "INBOUND_SMTP_PORT": str(port),
    }
    process_ = subprocess.Popen(
        [sys.executable, "manage.py", "inbound_smtp"], cwd=root, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process_.stdout.readline()
        assert f"SMTP on 127.0.0.1:{port}" in line
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            assert client.noop()[0] == 250
            assert client.rcpt(f"elsewhere@{DOMAIN}")[0] in {503, 550}
    finally:
        process_.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        while process_.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    assert process_.returncode == 0
