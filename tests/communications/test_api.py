"""``GET /api/notifications/``: the caller's own notifications, newest first, paginated, in their language,
in a fixed number of queries."""

from __future__ import annotations

import pytest

from cases import conversation, services
from cases.models import AuditEvent
from communications.models import Notification
from communications.tasks import notify_case_event

pytestmark = pytest.mark.django_db


def _notify_all() -> None:
    for event in AuditEvent.objects.exclude(case=None).order_by("id"):
        notify_case_event(event.pk)


def test_notifications_are_the_callers_own_newest_first(scoped_case, customer, engineer, login_api):
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True, comment="ok")
    services.case_transition(actor=engineer, case=scoped_case, name="propose_resolution", message="Fix")
    _notify_all()
    body = login_api(customer).get("/api/notifications/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    kinds = [row["kind"] for row in body["results"]]
    assert kinds[0] == "resolution" and "document" in kinds  # the proposal, then the scope sent before it
    first = body["results"][0]
    assert set(first) == {"id", "case", "kind", "title", "created_at", "read"}
    assert first["case"] == scoped_case.number and first["read"] is False
    assert first["title"] == "engineer proposed a resolution"
    assert all(
        n.recipient_id == customer.pk
        for n in Notification.objects.filter(pk__in=[r["id"] for r in body["results"]])
    )
    engineers = login_api(engineer).get("/api/notifications/").json()["results"]
    assert [row["kind"] for row in engineers] == ["scope_answer"]


def test_notification_titles_are_in_the_callers_language(scoped_case, customer, login_api):
    customer.language = "zh-hans"
    customer.save()
    _notify_all()
    client = login_api(customer)
    title = client.get("/api/notifications/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()["results"][0]["title"]
    assert "发送了范围" in title


def test_the_notification_list_costs_the_same_for_many(
    scoped_case, customer, engineer, login_api, django_assert_max_num_queries
):
    for n in range(30):
        services.timeline_add(actor=engineer, case=scoped_case, body=f"Update {n}")
    _notify_all()
    client = login_api(customer)
    with django_assert_max_num_queries(4):
        body = client.get("/api/notifications/").json()
    # The case opened, its scope sent, and the 30 messages.
    assert body["count"] == 32 and len(body["results"]) == 25 and body["next"]
