"""End to end with real processes: the aiosmtpd listener takes a reply to a real notification e-mail with
a real minidump attached, and a real Celery worker (a subprocess, on the suite's broker) reads it, posts it
and analyses the dump."""

from __future__ import annotations

import pytest

from analysis.models import AnalysisJob
from cases import services as case_services
from cases.models import State, TimelineEntry
from config.celery import app
from inbound.models import InboundMessage
from inbound.smtp import listener_start
from tests.inbound.conftest import (
    DOMAIN,
    MINIDUMP,
    Listener,
    free_port,
    notify_latest,
    reply_to_notification,
    sent_to,
)
from tests.pipeline.realworker import Broker, Worker, wait_for
from uploads.models import Upload

pytestmark = [
    pytest.mark.worker,
    pytest.mark.samples,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def broker(tmp_path, monkeypatch):

    monkeypatch.setitem(app.conf, "task_always_eager", False)  # this test's tasks go to the real worker
    with Broker(tmp_path) as shared:
        yield shared


def test_reply_by_mail_is_read_and_its_dump_analysed_by_a_real_worker(
    broker, scoped_case, customer, engineer, mailoutbox, settings, samples
):
    case_services.timeline_add(actor=engineer, case=scoped_case, body="Please send the minidump.")
    notify_latest("message_added")  # run here: the e-mail is in this process's outbox
    [notice] = sent_to(customer.email)
    address, raw = reply_to_notification(
        notice,
        body="Attached, from this morning.",
        files=[("Mini031023-01.dmp", samples(MINIDUMP).read_bytes())],
    )
    env = {
        "INBOUND_DOMAIN": DOMAIN,
        "SITE_URL": settings.SITE_URL,
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
    }
    port = free_port()
    controller = listener_start(host="127.0.0.1", port=port)
    try:
        with Worker(broker, extra_env=env):
            Listener(port=port, queued=[]).send(raw, to=[address])
            wait_for(
                lambda: Upload.objects.filter(case=scoped_case, state=Upload.State.ANALYSED).exists(),
                120,
                "the reply read and its dump analysed by the worker",
            )
    finally:
        controller.stop()
    message = InboundMessage.objects.get()
    assert message.state == InboundMessage.State.POSTED and message.attempts == 1
    entry = TimelineEntry.objects.get(case=scoped_case, via="email")
    assert (entry.author, entry.body) == (customer, "Attached, from this morning.")
    assert AnalysisJob.objects.get(upload__case=scoped_case).state == AnalysisJob.State.DONE
    scoped_case.refresh_from_db()
    assert scoped_case.state == State.INVESTIGATING
