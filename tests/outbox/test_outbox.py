"""The transactional outbox (issue 14, item 2): a committed request answers success whatever the broker
does; what it owes is published once the broker is back, once; lost messages are published again."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from analysis.models import AnalysisJob
from cases import services as case_services
from cases.models import AuditEvent
from communications.models import EmailDelivery
from communications.services import notification_fan_out
from communications.tasks import email_deliver
from outbox import services
from outbox.models import OutboxMessage
from outbox.selectors import outbox_backlog
from tests.uploads.conftest import sha256_b64
from uploads.models import Upload

State = OutboxMessage.State


def _publish(**extra) -> OutboxMessage:
    return services.outbox_publish(task="outbox.tasks.outbox_purge", **extra)


@pytest.mark.django_db
def test_a_message_is_a_row_of_the_callers_transaction_published_after_the_commit(
    django_capture_on_commit_callbacks,
):
    with mock.patch("outbox.services._send") as send:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            message = _publish(key="k1", countdown=3)
            assert send.call_count == 0  # never before the commit: the worker would not find the rows
        send.assert_called_once()
    message.refresh_from_db()
    assert message.state == State.DISPATCHED
    assert message.task_id == f"outbox-{message.pk}-1" and message.dispatches == 1
    assert message.options == {"countdown": 3}


@pytest.mark.django_db
def test_a_rolled_back_transaction_owes_nothing(django_capture_on_commit_callbacks):
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        _publish(key="gone")
        raise RuntimeError("the change failed")
    assert callbacks == [] and not OutboxMessage.objects.exists()


@pytest.mark.django_db
def test_the_same_key_twice_is_one_message(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        first = _publish(key="notify_case_event:7")
        second = _publish(key="notify_case_event:7")
    assert first.pk == second.pk and len(callbacks) == 1
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db
def test_broker_down_leaves_the_message_pending_with_the_reason_then_the_dispatcher_publishes_it_once(
    broker_switch, django_capture_on_commit_callbacks
):
    broker_switch.down()
    with django_capture_on_commit_callbacks(execute=True):
        message = _publish(key="k")  # the fast path fails quietly
    message.refresh_from_db()
    assert message.state == State.PENDING
    with pytest.raises(services.BrokerUnavailable):
        services.outbox_dispatch()  # the beat task fails and runs again at its next period
    assert outbox_backlog()["pending"] == 1
    broker_switch.up()
    with mock.patch("outbox.services._send") as send:
        result = services.outbox_dispatch()
        assert (result.published, result.republished) == (1, 0)
        assert services.outbox_dispatch().published == 0  # published once
    assert send.call_count == 1
    message.refresh_from_db()
    assert message.state == State.DISPATCHED


@pytest.mark.django_db
def test_after_a_broker_failure_requests_leave_messages_to_the_dispatcher_for_a_while(
    django_capture_on_commit_callbacks, monkeypatch
):
    """A broker that hangs costs one request its connect timeout, not every message of every request."""
    clock = [1000.0]
    monkeypatch.setattr("outbox.services._monotonic", lambda: clock[0])
    down = mock.patch("outbox.services.broker_epoch", side_effect=services.BrokerUnavailable("timed out"))
    with down as epoch, django_capture_on_commit_callbacks(execute=True):
        _publish(key="a")
        _publish(key="b")  # within the pause: not tried
    assert epoch.call_count == 1
    clock[0] += services.FAST_PATH_PAUSE + 1
    with mock.patch("outbox.services._send"), django_capture_on_commit_callbacks(execute=True):
        _publish(key="c")
    assert OutboxMessage.objects.get(key="c").state == State.DISPATCHED
    assert set(OutboxMessage.objects.filter(state=State.PENDING).values_list("key", flat=True)) == {"a", "b"}


@pytest.mark.django_db
def test_a_publish_error_keeps_the_message_and_its_error(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        message = _publish(key="k")
    with mock.patch("outbox.services._send", side_effect=ConnectionError("Connection refused")):
        for callback in callbacks:
            callback()  # the fast path: logged, never raised
        result = services.outbox_dispatch()
    assert result.published == 0 and "Connection refused" in result.error
    message.refresh_from_db()
    assert message.state == State.PENDING and "Connection refused" in message.last_error


@pytest.mark.django_db
def test_workers_report_start_retry_and_end(django_capture_on_commit_callbacks):
    with mock.patch("outbox.services._send"), django_capture_on_commit_callbacks(execute=True):
        message = _publish(key="k")
    message.refresh_from_db()
    task_id = message.task_id
    assert services.outbox_task_started(task_id=task_id, worker="celery@w1")
    services.outbox_task_ended(task_id=task_id, outcome="RETRY", error="SMTPServerDisconnected: gone")
    message.refresh_from_db()
    assert (message.state, message.worker) == (State.STARTED, "celery@w1")
    services.outbox_task_ended(task_id=task_id, outcome="SUCCESS")
    message.refresh_from_db()
    assert message.state == State.DONE and message.done_at is not None
    assert not services.outbox_task_started(task_id="another-task-id", worker="w")  # not ours: ignored


@pytest.mark.django_db
def test_a_task_run_by_celery_marks_its_message_done(eager_app, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        message = services.outbox_publish(task="outbox.tasks.outbox_purge", key="purge")
    message.refresh_from_db()
    assert message.state == State.DONE  # task_prerun and task_postrun fired with its outbox task id


@pytest.mark.django_db
def test_messages_the_broker_lost_are_published_again_with_a_new_task_id(django_capture_on_commit_callbacks):
    with (
        mock.patch("outbox.services.broker_epoch", return_value="run-1"),
        mock.patch("outbox.services._send"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        waiting = _publish(key="waiting")
        done = _publish(key="done")
    done.refresh_from_db()
    services.outbox_task_ended(task_id=done.task_id, outcome="SUCCESS")
    with (
        mock.patch("outbox.services.broker_epoch", return_value="run-1"),
        mock.patch("outbox.services._send") as send,
    ):
        assert services.outbox_dispatch().republished == 0  # same broker: nothing lost
    assert send.call_count == 0
    # Redis restarted empty: a new run_id; the message still open was in it.
    with (
        mock.patch("outbox.services.broker_epoch", return_value="run-2"),
        mock.patch("outbox.services._send") as send,
    ):
        assert services.outbox_dispatch().republished == 1
    waiting.refresh_from_db()
    assert send.call_args.args[1] == f"outbox-{waiting.pk}-2" == waiting.task_id
    assert waiting.broker_epoch == "run-2"


@pytest.mark.django_db
def test_a_message_whose_worker_vanished_is_published_again_only_when_no_worker_holds_it(
    django_capture_on_commit_callbacks,
):
    with mock.patch("outbox.services._send"), django_capture_on_commit_callbacks(execute=True):
        message = _publish(key="k")
    message.refresh_from_db()
    services.outbox_task_started(task_id=message.task_id, worker="celery@gone")
    OutboxMessage.objects.filter(pk=message.pk).update(seen_at=timezone.now() - timedelta(seconds=30))
    with (
        mock.patch("outbox.services._send") as send,
        mock.patch("outbox.services.broker_epoch", return_value=""),
    ):
        with mock.patch("outbox.services.live_task_ids", return_value=None):
            assert services.outbox_dispatch().republished == 0  # no worker answers: cannot judge
        with mock.patch("outbox.services.live_task_ids", return_value={message.task_id}):
            assert services.outbox_dispatch().republished == 0  # a worker still runs it
        with mock.patch("outbox.services.live_task_ids", return_value={"something-else"}) as live:
            assert services.outbox_dispatch().republished == 0  # seen alive just now: judged after the grace
            assert live.call_count == 0
            OutboxMessage.objects.filter(pk=message.pk).update(seen_at=timezone.now() - timedelta(seconds=30))
            assert services.outbox_dispatch().republished == 1
            assert live.call_args.args == ([message.task_id],)
    assert send.call_count == 1


@pytest.mark.django_db
def test_a_message_published_too_often_is_given_up_with_the_reason(
    settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_MAX_DISPATCHES = 2
    with mock.patch("outbox.services._send"), django_capture_on_commit_callbacks(execute=True):
        message = _publish(key="k")
    OutboxMessage.objects.filter(pk=message.pk).update(dispatches=2, broker_epoch="old")
    with (
        mock.patch("outbox.services._send") as send,
        mock.patch("outbox.services.broker_epoch", return_value="new"),
    ):
        assert services.outbox_dispatch().failed == 1
    assert send.call_count == 0
    message.refresh_from_db()
    assert message.state == State.FAILED and "published 2 times" in message.last_error
    assert outbox_backlog()["failed"] == 1


@pytest.mark.django_db
def test_ended_messages_are_purged_after_the_keep_days(settings):
    settings.OUTBOX_KEEP_DAYS = 7
    old = OutboxMessage.objects.create(
        key="old", task="t", state=State.DONE, done_at=timezone.now() - timedelta(days=8)
    )
    OutboxMessage.objects.create(key="new", task="t", state=State.DONE, done_at=timezone.now())
    OutboxMessage.objects.create(key="open", task="t")
    assert services.outbox_purge() == 1
    assert not OutboxMessage.objects.filter(pk=old.pk).exists() and OutboxMessage.objects.count() == 2


# -- what the portal owes users, with the broker down --------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_final_patch_with_the_broker_down_answers_204_and_the_job_is_published_when_it_is_back(
    broker_switch, tus_create, tus_patch, customer, case
):
    """The reported fault: the last PATCH answered 500 (kombu OperationalError from an on-commit
    ``.delay()``) though the upload was stored, and the client's retry got 409."""
    data = b"not a dump, but every byte of it"
    location = tus_create(customer, case, len(data))["Location"]
    broker_switch.down()
    answer = tus_patch(customer, location, 0, data, checksum=sha256_b64(data))
    assert answer.status_code == 204
    assert answer["Upload-Offset"] == str(len(data))
    upload = Upload.objects.get()
    assert upload.state == Upload.State.STORED
    job = AnalysisJob.objects.get(upload=upload)
    owed = OutboxMessage.objects.get(key=f"analyse_upload:{job.pk}")
    assert owed.state == State.PENDING
    broker_switch.up()
    with mock.patch("analysis.tasks.analyse_upload.apply_async") as apply_async:
        services.outbox_dispatch()
    assert apply_async.call_args.kwargs["args"] == [job.pk]
    owed.refresh_from_db()
    assert owed.state == State.DISPATCHED


@pytest.mark.django_db(transaction=True)
def test_notifications_owed_during_an_outage_are_all_emailed_once_it_ends(
    broker_switch, eager_app, case, customer, engineer, mailoutbox
):
    """The reported loss: 8 notifications during the outage, 0 of 8 e-mails."""
    before = len(mailoutbox)  # the case's opening may have told someone already
    broker_switch.down()
    for n in range(8):
        case_services.timeline_add(actor=customer, case=case, body=f"message {n}")  # each: 200, committed
    owed = OutboxMessage.objects.filter(task="communications.tasks.notify_case_event", state=State.PENDING)
    assert owed.count() == 8 and len(mailoutbox) == before
    broker_switch.up()
    services.outbox_dispatch()
    services.outbox_dispatch()
    services.outbox_dispatch()  # runs again find nothing more to send
    events = AuditEvent.objects.filter(action="message_added")
    assert EmailDelivery.objects.filter(event__in=events, state=EmailDelivery.State.SENT).count() == 8
    assert len(mailoutbox) - before == 8
    assert (
        not OutboxMessage.objects.exclude(state=State.DONE)
        .filter(task__startswith="communications.")
        .exists()
    )


@pytest.mark.django_db
def test_an_email_read_by_two_runs_at_once_is_sent_by_one(case, customer, engineer, mailoutbox):
    """A message published again after a loss may meet a first run: both read the delivery as pending
    with no attempt yet; the first claims attempt 1 and is sending; the second's claim then fails."""

    case_services.timeline_add(actor=customer, case=case, body="Hello")
    delivery = notification_fan_out(event=AuditEvent.objects.get(action="message_added"))[0]
    read_by_second = EmailDelivery.objects.get(pk=delivery.pk)
    EmailDelivery.objects.filter(pk=delivery.pk).update(attempts=1)  # the first run's claim
    with mock.patch("django.db.models.query.QuerySet.first", return_value=read_by_second):
        assert email_deliver(delivery.pk) is False
    assert mailoutbox == []
    EmailDelivery.objects.filter(pk=delivery.pk).update(attempts=0)
    assert email_deliver(delivery.pk) is True and len(mailoutbox) == 1
    assert email_deliver(delivery.pk) is False and len(mailoutbox) == 1  # sent: never again
