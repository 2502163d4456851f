"""The cases API: contract fields, filters, pagination, errors and token authentication."""

from __future__ import annotations

import pytest

from cases import services
from cases.models import State
from tests.factories import PASSWORD, CaseFactory

pytestmark = pytest.mark.django_db


def test_token_login_and_use(api_client, scoped_case, customer):
    response = api_client.post("/api/token/", {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {response.json()['token']}")
    listing = api_client.get("/api/cases/").json()
    assert [c["number"] for c in listing["results"]] == [scoped_case.number]


def test_token_with_wrong_password_is_refused(api_client, customer):
    response = api_client.post("/api/token/", {"username": "alice", "password": "wrong"})
    assert response.status_code == 400
    assert "token" not in response.json()


def test_anonymous_gets_401_or_403(api_client, case):
    assert api_client.get("/api/cases/").status_code in {401, 403}
    assert api_client.get(f"/api/cases/{case.number}/").status_code in {401, 403}


def test_list_has_contract_fields_and_pagination(login_api, engineer, case):
    body = login_api(engineer).get("/api/cases/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert {"number", "title", "state", "severity", "organisation", "owner", "opened_at", "closed_at"} <= set(
        body["results"][0]
    )


def test_list_filters_and_search(login_api, engineer, organisation, other_organisation):
    CaseFactory(title="Printer spooler crash", organisation=organisation, state=State.INVESTIGATING)
    CaseFactory(title="Blue screen 0x9F", organisation=other_organisation)
    client = login_api(engineer)
    assert client.get("/api/cases/?search=spooler").json()["count"] == 1
    assert client.get("/api/cases/?state=investigating").json()["count"] == 1
    assert client.get("/api/cases/?organisation=fabrikam").json()["count"] == 1
    assert client.get("/api/cases/?search=Contoso").json()["count"] == 1


def test_customer_lists_only_their_organisation(login_api, customer, case, other_organisation):
    CaseFactory(organisation=other_organisation)
    body = login_api(customer).get("/api/cases/").json()
    assert [c["number"] for c in body["results"]] == [case.number]


def test_other_organisation_case_is_404_everywhere(login_api, other_customer, scoped_case):
    client = login_api(other_customer)
    base = f"/api/cases/{scoped_case.number}"
    for method, path in [
        ("get", "/"),
        ("patch", "/"),
        ("get", "/timeline/"),
        ("post", "/timeline/"),
        ("get", "/scope/"),
        ("post", "/scope/answer/"),
        ("get", "/summary/"),
        ("post", "/close/"),
    ]:
        response = getattr(client, method)(base + path, {"body": "x", "accepted": True}, format="json")
        assert response.status_code == 404, (method, path, response.status_code)
        assert scoped_case.title not in response.content.decode()


def test_engineer_creates_case(login_api, engineer, organisation, customer):
    response = login_api(engineer).post(
        "/api/cases/",
        {"organisation": "contoso", "title": "Crash", "severity": "high", "customer_contact": "alice"},
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["state"] == "new" and response.json()["severity"] == "high"


def test_create_with_invalid_data_gives_field_errors(login_api, engineer, organisation):
    response = login_api(engineer).post(
        "/api/cases/", {"organisation": "nope", "severity": "urgent"}, format="json"
    )
    assert response.status_code == 400
    assert {"organisation", "title", "severity"} <= set(response.json())


def test_customer_cannot_create_case(login_api, customer, organisation):
    response = login_api(customer).post(
        "/api/cases/", {"organisation": "contoso", "title": "x"}, format="json"
    )
    assert response.status_code == 403
    assert "engineers" in response.json()["detail"]


def test_transition_not_allowed_in_state_gives_400_with_reason(login_api, engineer, case):
    response = login_api(engineer).post(f"/api/cases/{case.number}/propose_resolution/", {"message": "x"})
    assert response.status_code == 400
    assert "not possible" in response.json()["detail"]
    case.refresh_from_db()
    assert case.state == State.NEW


def test_unknown_action_is_404(login_api, engineer, case):
    assert login_api(engineer).post(f"/api/cases/{case.number}/explode/").status_code == 404


def test_lifecycle_through_the_api(login_api, engineer, customer, case):
    client = login_api(engineer)
    base = f"/api/cases/{case.number}"
    scope = {"problem_definition": "p", "scope": "s", "next_steps": "upload dumps"}
    assert client.post(base + "/scope/", scope, format="json").status_code == 201
    assert client.post(base + "/send_scope/").json()["state"] == "awaiting_customer"
    client.force_authenticate(customer)
    assert client.post(base + "/scope/answer/", {"accepted": True}, format="json").status_code == 201
    assert client.get(base + "/").json()["state"] == "investigating"  # accepting the scope starts it
    assert client.post(base + "/timeline/", {"body": "Uploaded."}, format="json").status_code == 201
    assert client.post(base + "/request_customer/", {"message": "x"}).status_code == 403
    client.force_authenticate(engineer)
    assert client.post(base + "/start_investigation/").status_code == 400  # already investigating
    assert client.post(base + "/close/", {"analysis": "a"}, format="json").status_code == 400
    close = {"problem_description": "p", "analysis": "a", "resolution": "r", "resolution_type": "resolved"}
    body = client.post(base + "/close/", close, format="json").json()
    assert body["state"] == "closed" and body["closed_at"]
    summary = client.get(base + "/summary/").json()
    assert summary[0]["resolution_type"] == "resolved"
    actions = [e["action"] for e in client.get(base + "/audit/").json()]
    assert {"case_opened", "scope_saved", "send_scope", "scope_accepted", "close"} <= set(actions)


def test_internal_notes_are_hidden_from_customers(login_api, engineer, customer, case):
    services.timeline_add(actor=engineer, case=case, body="Internal: suspect the DLP agent", internal=True)
    services.timeline_add(actor=engineer, case=case, body="Please upload the dumps")
    bodies = [e["body"] for e in login_api(customer).get(f"/api/cases/{case.number}/timeline/").json()]
    assert bodies == ["Please upload the dumps"]


def test_customer_cannot_read_audit_trail(login_api, customer, case):
    assert login_api(customer).get(f"/api/cases/{case.number}/audit/").status_code == 403


def test_assign_and_split_through_the_api(login_api, engineer, other_engineer, case):
    client = login_api(engineer)
    base = f"/api/cases/{case.number}"
    assert client.post(base + "/assign/", {"owner": "engineer2"}).status_code == 400  # reason needed
    assert (
        client.post(base + "/assign/", {"owner": "engineer2", "reason": "leave"}).json()["owner"]
        == "engineer2"
    )
    child = client.post(base + "/split/", {"title": "Second problem"})
    assert child.status_code == 201 and child.json()["parent"] == case.number


def test_patch_updates_fields_and_rejects_bad_severity(login_api, engineer, case):
    client = login_api(engineer)
    assert (
        client.patch(f"/api/cases/{case.number}/", {"severity": "critical"}, format="json").json()["severity"]
        == "critical"
    )
    assert (
        client.patch(f"/api/cases/{case.number}/", {"severity": "urgent"}, format="json").status_code == 400
    )


def test_list_query_count_is_constant(login_api, engineer, organisation, django_assert_max_num_queries):
    for _ in range(200):
        CaseFactory(organisation=organisation, owner=engineer)
    client = login_api(engineer)
    with django_assert_max_num_queries(4):
        response = client.get("/api/cases/?page=2")
    assert response.status_code == 200 and len(response.json()["results"]) == 25


def test_schema_and_docs_are_served(client, engineer):
    client.force_login(engineer)
    schema = client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/cases/" in schema.content
    assert client.get("/api/docs/").status_code == 200
