"""Server-rendered pages: each role's view, refusals shown as messages, no N+1."""

from __future__ import annotations

import pytest

from cases import services
from cases.models import AuditEvent, State
from cases.search_index import case_search_sweep
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def test_login_page_and_sign_in(client, customer):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery-9"})
    assert response.status_code == 302 and response["Location"] == "/cases/"


def test_wrong_password_shows_the_form_again(client, customer):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()


def test_anonymous_is_sent_to_login(client, case):
    response = client.get(f"/cases/{case.number}/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_case_list_query_count_is_constant(client, engineer, organisation, django_assert_max_num_queries):
    for _ in range(200):
        CaseFactory(organisation=organisation, owner=engineer)
    client.force_login(engineer)
    # Cold: the table's key (the page's ids and versions, one narrow query), then the page's cases.
    with django_assert_max_num_queries(9):
        response = client.get("/cases/?view=all")
    assert response.status_code == 200
    assert "200 cases" in response.content.decode()


def test_engineer_list_views_and_search(client, engineer, organisation):
    CaseFactory(title="Mine", organisation=organisation, owner=engineer)
    CaseFactory(title="Nobody's", organisation=organisation)
    case_search_sweep()  # search reads the documents the sweep builds
    client.force_login(engineer)
    assert "Nobody" not in client.get("/cases/").content.decode()  # default: my cases
    assert "Nobody" in client.get("/cases/?view=unassigned").content.decode()
    page = client.get("/cases/?view=all&q=Mine").content.decode()
    assert "Mine" in page and "Nobody" not in page


def test_customer_sees_only_their_cases(client, customer, case, other_organisation):
    CaseFactory(title="Someone else's crash", organisation=other_organisation)
    client.force_login(customer)
    page = client.get("/cases/").content.decode()
    assert case.title in page and "Someone else" not in page


def test_other_organisation_case_page_is_404(client, other_customer, case):
    client.force_login(other_customer)
    response = client.get(f"/cases/{case.number}/")
    assert response.status_code == 404
    assert case.title not in response.content.decode()
    assert client.post(f"/cases/{case.number}/message/", {"body": "hi"}).status_code == 404


def test_engineer_opens_case_from_the_form(client, engineer, organisation, customer):
    client.force_login(engineer)
    assert client.get("/cases/new/").status_code == 200
    response = client.post(
        "/cases/new/",
        {
            "organisation": organisation.pk,
            "title": "BSOD 0xBE",
            "severity": "high",
            "customer_contact": customer.pk,
        },
    )
    assert response.status_code == 302
    assert "BSOD 0xBE" in client.get(response["Location"]).content.decode()


def test_invalid_new_case_form_shows_field_errors(client, engineer, organisation):
    client.force_login(engineer)
    response = client.post(
        "/cases/new/", {"organisation": organisation.pk, "title": "", "severity": "urgent"}
    )
    assert response.status_code == 200
    assert response.content.decode().count("field-error") >= 2


def test_customer_cannot_open_the_new_case_page(client, customer):
    client.force_login(customer)
    assert client.get("/cases/new/").status_code == 403


def test_action_not_allowed_shows_message_and_changes_nothing(client, engineer, case):
    client.force_login(engineer)
    response = client.post(f"/cases/{case.number}/action/send_scope/", follow=True)
    assert "Write the scope before sending it." in response.content.decode()
    case.refresh_from_db()
    assert case.state == State.NEW


def test_case_page_shows_only_allowed_actions(client, engineer, case):
    client.force_login(engineer)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert 'data-action="start_scoping"' in page
    assert 'data-action="reopen"' not in page and 'data-action="propose_resolution"' not in page


def test_customer_accepts_scope_and_writes_message(client, customer, scoped_case):
    client.force_login(customer)
    page = client.get(f"/cases/{scoped_case.number}/").content.decode()
    assert "Accept the scope" in page and "data-action" not in page
    client.post(f"/cases/{scoped_case.number}/scope/answer/", {"accepted": "1"})
    client.post(f"/cases/{scoped_case.number}/message/", {"body": "Dumps are uploaded"})
    page = client.get(f"/cases/{scoped_case.number}/").content.decode()
    assert "Accepted" in page and "Dumps are uploaded" in page


def test_internal_note_hidden_from_customer_page(client, engineer, customer, case):
    services.timeline_add(actor=engineer, case=case, body="Suspect the DLP agent", internal=True)
    client.force_login(customer)
    assert "Suspect the DLP agent" not in client.get(f"/cases/{case.number}/").content.decode()
    client.force_login(engineer)
    assert "Suspect the DLP agent" in client.get(f"/cases/{case.number}/").content.decode()


def test_close_form_requires_summary(client, engineer, case):
    client.force_login(engineer)
    response = client.post(f"/cases/{case.number}/close/", {"resolution_type": "resolved"})
    assert response.status_code == 200 and "field-error" in response.content.decode()
    response = client.post(
        f"/cases/{case.number}/close/",
        {"problem_description": "p", "analysis": "a", "resolution": "r", "resolution_type": "resolved"},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == State.CLOSED


def test_language_switch_changes_the_pages_of_this_session_not_the_saved_language(client, customer):
    client.force_login(customer)
    client.post("/accounts/language/", {"language": "zh-hans", "next": "/cases/"})
    customer.refresh_from_db()
    assert customer.language == ""  # tests/test_language.py: the profile page changes it
    assert client.get("/cases/").headers["Content-Language"] == "zh-hans"


def test_healthz_reports_database_and_broker(client, engineer):
    client.force_login(engineer)  # staff read the details; anonymous callers only the status
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok" and response.json()["broker"] == "ok"


def test_admin_edit_goes_through_the_service_and_is_audited(client, case, engineer):

    engineer.is_staff = engineer.is_superuser = True
    engineer.save()
    client.force_login(engineer)
    url = f"/admin/cases/case/{case.pk}/change/"
    assert client.get(url).status_code == 200
    data = {
        "title": "Renamed in admin",
        "description": "",
        "severity": "low",
        "product": "",
        "external_reference": "",
        "scope_versions-TOTAL_FORMS": 0,
        "scope_versions-INITIAL_FORMS": 0,
        "summaries-TOTAL_FORMS": 0,
        "summaries-INITIAL_FORMS": 0,
    }
    assert client.post(url, data).status_code == 302
    case.refresh_from_db()
    assert case.title == "Renamed in admin" and case.state == State.NEW
    assert AuditEvent.objects.filter(case=case, action="case_updated").exists()
