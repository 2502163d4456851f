"""The pages: the draft editor, sending, the customer reading, notifications and preferences."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from cases import services as case_services
from cases.models import AuditEvent
from communications.models import Notification, NotificationPreference, SentDocument
from communications.tasks import notify_case_event

pytestmark = pytest.mark.django_db


def test_engineer_opens_a_draft_in_either_language(client, reference_case, engineer):
    client.force_login(engineer)
    url = f"/cases/{reference_case.number}/documents/findings/"
    page = client.get(url).content.decode()
    assert "0x000000be" in page and "Crashes found" in page
    assert "?lang=zh-hans" in page  # the other language one click away
    page = client.get(url + "?lang=zh-hans").content.decode()
    assert "蓝屏记录" in page
    assert "INTERNAL-ONLY" not in page


def test_case_page_panel_offers_drafts_to_staff_and_documents_to_customers(
    client, reference_case, engineer, customer, django_assert_max_num_queries
):
    client.force_login(engineer)
    page = client.get(f"/cases/{reference_case.number}/").content.decode()
    assert 'data-document="findings"' in page
    client.post(
        f"/cases/{reference_case.number}/documents/findings/send/",
        {"language": "en", "subject": "Findings", "body": "The dump shows 0xBE in smss.exe.\n"},
    )
    assert SentDocument.objects.filter(case=reference_case).count() == 1
    client.force_login(customer)
    page = client.get(f"/cases/{reference_case.number}/").content.decode()
    assert "The dump shows 0xBE in smss.exe." in page
    assert 'data-document="findings"' not in page  # customers read, they do not draft
    assert "INTERNAL-ONLY" not in page
    document = SentDocument.objects.get()
    page = client.get(f"/cases/{reference_case.number}/documents/sent/{document.pk}/").content.decode()
    assert "The dump shows 0xBE in smss.exe." in page


def test_send_with_a_placeholder_keeps_the_edits(client, scoped_case, engineer):
    client.force_login(engineer)
    response = client.post(
        f"/cases/{scoped_case.number}/documents/findings/send/",
        {"language": "en", "subject": "Findings", "body": "My edit\n[[write here]]"},
    )
    assert response.status_code == 400
    assert "My edit" in response.content.decode()
    assert not SentDocument.objects.exists()


def test_unknown_document_is_404(client, scoped_case, engineer):
    client.force_login(engineer)
    assert client.get(f"/cases/{scoped_case.number}/documents/letter/").status_code == 404


def test_notifications_page_badge_and_open(client, case, customer, engineer):
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    notify_case_event(AuditEvent.objects.get(action="message_added").pk)
    client.force_login(engineer)
    page = client.get("/notifications/").content.decode()
    assert case.number in page and "New message" in page

    request = RequestFactory().get("/")
    request.user = engineer
    badge = Template('{% include "communications/nav_badge.html" %}').render(
        Context({"request": request, "user": engineer})
    )
    assert 'data-unread="1"' in badge
    notification = Notification.objects.get()
    response = client.post(f"/notifications/{notification.pk}/open/")
    assert response["Location"] == f"/cases/{case.number}/"
    notification.refresh_from_db()
    assert notification.read_at is not None


def test_someone_elses_notification_is_404(client, case, customer, engineer, other_engineer):
    case_services.timeline_add(actor=customer, case=case, body="Hello")
    notify_case_event(AuditEvent.objects.get(action="message_added").pk)
    client.force_login(other_engineer)
    assert client.post(f"/notifications/{Notification.objects.get().pk}/open/").status_code == 404


def test_preferences_page_turns_a_kind_off(client, engineer):
    client.force_login(engineer)
    assert client.get("/notifications/preferences/").status_code == 200
    data = {f"{kind}_{channel}": "on" for kind in ("message", "upload") for channel in ("email", "portal")}
    client.post("/notifications/preferences/", data)
    assert NotificationPreference.objects.get(user=engineer, kind="message").email is True
    assert NotificationPreference.objects.get(user=engineer, kind="analysis").email is False


def test_the_panel_speaks_to_its_reader(reference_case, customer, engineer, client):
    client.force_login(customer)
    assert "Messages from your engineer" in client.get(f"/cases/{reference_case.number}/").content.decode()
    client.force_login(engineer)
    assert "Messages to the customer" in client.get(f"/cases/{reference_case.number}/").content.decode()
