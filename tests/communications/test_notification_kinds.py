"""Who is told what: each kind of event, the portal's unread marker, and each user's switches."""

from __future__ import annotations

import pytest
from django.utils import timezone

from analysis.models import AnalysisJob
from cases import conversation
from cases import services as case_services
from cases.audit import AuditAction, audit_record
from cases.models import AuditEvent
from communications import services
from communications.models import Notification, NotificationKind
from communications.selectors import notifications_unread_count
from communications.tasks import notify_case_event
from tests.communications.conftest import INTERNAL_NOTE, make_upload

pytestmark = pytest.mark.django_db


def _notify(action: str) -> None:
    for event in AuditEvent.objects.filter(action=action):
        notify_case_event(event.pk)


def test_scope_objection_reaches_the_engineer_by_email_and_in_the_portal(
    scoped_case, customer, engineer, mailoutbox
):
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=False, comment="Not only 0xBE")
    _notify("scope_objected")
    assert [m.to[0] for m in mailoutbox] == [engineer.email]
    assert "objected" in mailoutbox[0].subject
    assert Notification.objects.get(recipient=engineer).kind == NotificationKind.SCOPE_ANSWER
    assert notifications_unread_count(user=engineer) == 1


def test_assignment_tells_the_new_and_the_previous_owner_and_the_customer(
    case, manager, engineer, other_engineer, customer, mailoutbox
):
    case_services.case_assign(actor=manager, case=case, owner=other_engineer, reason="Holiday")
    _notify("case_reassigned")
    mails = {m.to[0]: m for m in mailoutbox}
    assert sorted(mails) == sorted([engineer.email, other_engineer.email, customer.email])
    # The customer learns who handles the case now; the reason stays with staff.
    assert "Holiday" in mails[engineer.email].body and "Holiday" not in mails[customer.email].body
    assert all(
        n.kind == NotificationKind.ASSIGNED
        for n in Notification.objects.filter(event__action="case_reassigned")
    )


def test_closing_tells_the_customer_contact(case, engineer, customer, mailoutbox):
    case_services.case_close(
        actor=engineer,
        case=case,
        problem_description="p",
        analysis="a",
        resolution="r",
        resolution_type="resolved",
    )
    _notify("close")
    assert customer.email in [m.to[0] for m in mailoutbox]


def test_new_upload_tells_the_owner(scoped_case, customer, engineer, mailoutbox):
    upload = make_upload(scoped_case, filename="Mini031023-01.dmp", kind="kernel_dump", by=customer)
    audit_record(
        case=scoped_case,
        actor=customer,
        action=AuditAction.UPLOAD_STORED,
        customer_visible=True,
        data={"upload": str(upload.pk), "filename": upload.filename},
    )
    _notify("upload_stored")
    assert [m.to[0] for m in mailoutbox] == [engineer.email]
    assert "Mini031023-01.dmp" in mailoutbox[0].subject


def test_customer_message_is_quoted_for_staff(case, customer, engineer, mailoutbox):
    case_services.timeline_add(actor=customer, case=case, body="The dumps are uploaded.")
    _notify("message_added")
    assert "The dumps are uploaded." in mailoutbox[0].body
    assert "The dumps are uploaded." in mailoutbox[0].alternatives[0][0]


def test_staff_message_reaches_the_customer_but_an_internal_note_never_does(
    reference_case, engineer, customer, other_engineer, account_manager, mailoutbox
):
    case_services.timeline_add(
        actor=other_engineer, case=reference_case, body="Second internal note", internal=True
    )
    case_services.timeline_add(actor=engineer, case=reference_case, body="Please upload MEMORY.DMP.")
    for event in AuditEvent.objects.filter(action__in=["note_added", "message_added"]):
        notify_case_event(event.pk)
    to_customer = [m for m in mailoutbox if m.to == [customer.email]]
    assert len(to_customer) == 1 and "Please upload MEMORY.DMP." in to_customer[0].body
    for mail in mailoutbox:
        for text in (mail.subject, mail.body, mail.alternatives[0][0]):
            assert INTERNAL_NOTE not in text and "Second internal note" not in text
    assert not Notification.objects.filter(recipient=customer, event__action="note_added").exists()
    assert not Notification.objects.filter(recipient=account_manager, event__action="note_added").exists()


def test_a_kind_turned_off_is_not_sent(scoped_case, customer, engineer, mailoutbox):
    services.notification_preferences_save(
        user=engineer, choices={NotificationKind.SCOPE_ANSWER: (False, True)}
    )
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True)
    _notify("scope_accepted")
    assert mailoutbox == []
    assert Notification.objects.filter(recipient=engineer).count() == 1  # the portal marker stays on
    services.notification_preferences_save(
        user=engineer, choices={NotificationKind.SCOPE_ANSWER: (False, False)}
    )
    Notification.objects.all().delete()
    _notify("scope_accepted")
    assert not Notification.objects.exists()


def test_notifying_twice_sends_once(case, customer, engineer, mailoutbox):
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    event = AuditEvent.objects.get(action="message_added")
    assert notify_case_event(event.pk) == 1
    assert notify_case_event(event.pk) == 0  # a redelivered task message
    assert len(mailoutbox) == 1
    assert Notification.objects.count() == 1


def test_mark_read(case, customer, engineer):
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    _notify("message_added")
    assert notifications_unread_count(user=engineer) == 1
    services.notification_mark_read(user=customer)  # someone else's marker is untouched
    assert notifications_unread_count(user=engineer) == 1
    services.notification_mark_read(user=engineer)
    assert notifications_unread_count(user=engineer) == 0


def test_notification_email_is_in_the_recipients_language(case, customer, engineer, mailoutbox):
    engineer.language = "zh-hans"
    engineer.save()
    case_services.timeline_add(actor=customer, case=case, body="你好")
    _notify("message_added")
    assert mailoutbox[0].alternatives[0][0].startswith("<!DOCTYPE html>")
    assert 'lang="zh-hans"' in mailoutbox[0].alternatives[0][0]


def test_analysis_done_tells_the_owner_once_the_last_job_ends(
    scoped_case, customer, engineer, mailoutbox, django_capture_on_commit_callbacks, monkeypatch
):

    queued: list[int] = []
    monkeypatch.setattr(
        notify_case_event, "apply_async", lambda args, kwargs=None, **options: queued.append(args[0])
    )
    first = make_upload(scoped_case, filename="a.dmp", kind="kernel_dump", by=customer)
    second = make_upload(scoped_case, filename="b.dmp", kind="kernel_dump", by=customer)
    AnalysisJob.objects.create(upload=first, state="done", queued_at=timezone.now())
    running = AnalysisJob.objects.create(upload=second, state="running", queued_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        audit_record(case=scoped_case, actor=None, action=AuditAction.ANALYSIS_DONE, data={"job": 1})
    assert len(queued) == 1, "the pipeline's audit row is queued after the commit"
    notify_case_event(queued[0])
    assert mailoutbox == []  # b.dmp is still being analysed
    AnalysisJob.objects.filter(pk=running.pk).update(state="done")
    with django_capture_on_commit_callbacks(execute=True):
        audit_record(case=scoped_case, actor=None, action=AuditAction.ANALYSIS_DONE, data={"job": running.pk})
    notify_case_event(queued[1])
    assert [m.to[0] for m in mailoutbox] == [engineer.email]
    assert "Analysis done" in mailoutbox[0].subject
