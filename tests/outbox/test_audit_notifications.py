"""One notification path: recording an audited case event (``cases.audit.audit_record``) is what tells
people of it, through the outbox; the routes table decides who; each person hears once, also when the
broker was down at the commit and the dispatcher publishes later, and when a message is published twice."""

from __future__ import annotations

import pytest
from django.db import transaction

from accounts.models import User
from cases.audit import NOTIFY_TASK, AuditAction, audit_record
from cases.models import AuditEvent
from communications.models import EmailDelivery, Notification
from communications.notifications import ROUTES
from communications.services import case_follow
from communications.tasks import notify_case_event
from outbox import services as outbox
from outbox.models import OutboxMessage
from tests.factories import UserFactory


def _notify_messages() -> int:
    return OutboxMessage.objects.filter(task=NOTIFY_TASK).count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("outage", [False, True], ids=["published-at-commit", "published-later"])
def test_an_audited_event_reaches_exactly_its_routes_recipients_once(
    outage, broker_switch, eager_app, case, customer, engineer, account_manager, mailoutbox
):
    follower = UserFactory(username="follower", role=User.Role.ENGINEER)
    case_follow(actor=follower, case=case, follow=True)
    # Who the table says hears of a customer's message: the staff side, account managers included (the
    # event is customer-visible); the customer contact is the actor.
    route = ROUTES[AuditAction.MESSAGE_ADDED]
    assert route.staff and route.customers
    expected = {engineer.email, follower.email, account_manager.email}
    before = len(mailoutbox)
    if outage:
        broker_switch.down()
    with transaction.atomic():
        event = audit_record(
            case=case, actor=customer, action=AuditAction.MESSAGE_ADDED, customer_visible=True, data={}
        )
    if outage:
        assert len(mailoutbox) == before and not Notification.objects.filter(event=event).exists()
        broker_switch.up()
        outbox.outbox_dispatch()
    outbox.outbox_dispatch()  # a second dispatch finds nothing more to publish
    notify_case_event(event.pk)  # a message published again (after a loss) finds the first run's rows
    told = Notification.objects.filter(event=event).values_list("recipient__email", flat=True)
    assert sorted(told) == sorted(expected)
    assert sorted(m.to[0] for m in mailoutbox[before:]) == sorted(expected)
    assert EmailDelivery.objects.filter(event=event).count() == len(expected)
    assert OutboxMessage.objects.filter(key=f"notify_case_event:{event.pk}").count() == 1


@pytest.mark.django_db
def test_recording_queues_the_notification_in_the_callers_transaction(case, customer):
    before = _notify_messages()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record(case=case, actor=customer, action=AuditAction.MESSAGE_ADDED, customer_visible=True)
        assert _notify_messages() == before + 1
        raise RuntimeError("the change failed")
    assert _notify_messages() == before  # rolled back with the change: nobody hears of what did not happen


@pytest.mark.django_db
def test_records_only_and_events_without_a_case_tell_nobody(case, engineer):
    before = _notify_messages()
    audit_record(case=case, actor=engineer, action=AuditAction.UPLOAD_DOWNLOADED, data={"filename": "a.dmp"})
    audit_record(case=case, actor=engineer, action=AuditAction.EXPORT_SUMMARY_PDF, data={})
    audit_record(actor=engineer, action=AuditAction.LOGIN, data={})
    assert _notify_messages() == before


@pytest.mark.django_db
def test_a_row_written_around_the_writer_notifies_nobody(case, customer):
    """No signal sends notifications: only ``audit_record`` does."""
    before = _notify_messages()
    AuditEvent.objects.create(case=case, actor=customer, action=AuditAction.MESSAGE_ADDED)
    assert _notify_messages() == before


@pytest.mark.django_db
def test_free_text_actions_are_refused(case, engineer):
    before = AuditEvent.objects.count()
    with pytest.raises(ValueError):
        audit_record(case=case, actor=engineer, action="something_happened")
    assert AuditEvent.objects.count() == before
