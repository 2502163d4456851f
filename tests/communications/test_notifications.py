from __future__ import annotations

import pytest

from cases import services
from cases.models import AuditEvent
from communications.tasks import notify_case_event

pytestmark = pytest.mark.django_db


def test_account_manager_and_owner_are_notified_of_customer_message(
    mailoutbox, case, customer, account_manager
):
    services.timeline_add(actor=customer, case=case, body="Uploaded the dumps")
    event = AuditEvent.objects.get(action="message_added")
    assert notify_case_event(event.pk) == 2
    assert sorted(m.to[0] for m in mailoutbox) == ["engineer@example.com", "tam@example.com"]
    assert case.number in mailoutbox[0].subject


def test_internal_note_is_not_sent_to_account_managers(mailoutbox, case, other_engineer, account_manager):
    services.timeline_add(actor=other_engineer, case=case, body="Suspect the DLP agent", internal=True)
    event = AuditEvent.objects.get(action="note_added")
    notify_case_event(event.pk)
    assert [m.to[0] for m in mailoutbox] == ["engineer@example.com"]
    assert "DLP" not in mailoutbox[0].body


def test_missing_event_sends_nothing(mailoutbox, db):
    assert notify_case_event(999_999) == 0
