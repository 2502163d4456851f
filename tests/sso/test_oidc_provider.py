"""Single sign-on against a real OpenID Connect provider (django-oauth-toolkit in its own process): the
authorisation request, the provider's sign-in page, the code exchange and the ID token's checks."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User
from cases.models import AuditEvent
from tests.factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db


def _sign_in(client, oidc_provider, username: str, email: str, *, next_url: str = ""):
    """The whole journey with the test client for the portal and HTTP for the provider."""
    response = client.post("/accounts/sso/", {"email": email, "next": next_url})
    assert response.status_code == 200, response.content[:300]
    target = response.context["target"]  # the page moves on by itself (meta refresh)
    response = client.get(target)
    assert response.status_code == 302
    authorize = response["Location"]
    assert authorize.startswith(oidc_provider.issuer + "/authorize/")
    assert "code_challenge=" in authorize and "nonce=" in authorize and "state=" in authorize
    callback = oidc_provider.sign_in(authorize, username)
    assert callback.startswith("http://testserver/accounts/sso/")
    return client.get(callback.removeprefix("http://testserver"))


def test_a_customer_is_matched_by_verified_email_and_signed_in(
    client, oidc_provider, contoso_sso, organisation
):
    alice = CustomerFactory(username="alice", organisation=organisation, email="Alice@Contoso.example")
    response = _sign_in(client, oidc_provider, "alice", "alice@contoso.example")
    assert response.status_code == 302 and response["Location"] == "/cases/"
    assert client.get("/cases/").wsgi_request.user == alice
    event = AuditEvent.objects.get(action="sso_login")
    assert (event.actor, event.data["provider"], event.data["created"]) == (alice, "contoso", False)
    assert AuditEvent.objects.filter(action="login", actor=alice).exists()


def test_someone_new_is_created_with_the_organisations_role(client, oidc_provider, contoso_sso, organisation):
    response = _sign_in(client, oidc_provider, "carol", "carol@contoso.example")
    assert response.status_code == 302
    carol = User.objects.get(email="carol@contoso.example")
    assert (carol.role, carol.organisation, carol.first_name) == (User.Role.CUSTOMER, organisation, "Carol")
    assert not carol.has_usable_password()
    assert AuditEvent.objects.get(action="sso_login").data["created"] is True


def test_an_unverified_address_is_refused_with_the_reason_and_audited(client, oidc_provider, contoso_sso):
    response = _sign_in(client, oidc_provider, "dave", "dave@contoso.example")
    assert response.status_code == 403
    assert "not verified" in response.content.decode()
    assert not User.objects.filter(email="dave@contoso.example").exists()
    assert "not verified" in AuditEvent.objects.get(action="sso_refused").data["reason"]
    assert "_auth_user_id" not in client.session


def test_an_account_of_another_organisation_is_not_signed_in_by_contosos_provider(
    client, oidc_provider, contoso_sso, other_organisation
):
    CustomerFactory(username="mallory", organisation=other_organisation, email="mallory@fabrikam.example")
    response = client.get("/accounts/sso/contoso/")
    callback = oidc_provider.sign_in(response["Location"], "mallory")
    response = client.get(callback.removeprefix("http://testserver"))
    assert response.status_code == 403
    assert "does not belong to the organisation" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_staff_whose_provider_asserts_mfa_skip_the_portal_code(client, oidc_provider, staff_sso, settings):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["engineer", "manager"]
    eve = UserFactory(username="eve", role=User.Role.ENGINEER, email="eve@support.example")
    response = _sign_in(client, oidc_provider, "eve", "eve@support.example")
    assert response.status_code == 302
    page = client.get("/cases/")
    assert page.status_code == 200 and page.wsgi_request.user == eve
    assert AuditEvent.objects.get(action="sso_login").data["second_factor"] is True


def test_staff_without_an_mfa_claim_still_pass_the_portal_second_factor(
    client, oidc_provider, staff_sso, settings
):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["engineer", "manager"]
    UserFactory(username="sam", role=User.Role.ENGINEER, email="sam@support.example")
    assert _sign_in(client, oidc_provider, "sam", "sam@support.example").status_code == 302
    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"] == "/accounts/two-factor/setup/"


def test_the_staff_provider_creates_nobody(client, oidc_provider, staff_sso):
    response = _sign_in(client, oidc_provider, "sam", "sam@support.example")
    assert response.status_code == 403
    assert "no account on this portal" in response.content.decode()
    assert AuditEvent.objects.get(action="sso_refused").data["reason"].startswith("unknown e-mail")


def test_a_callback_used_twice_is_refused(client, oidc_provider, contoso_sso, organisation):
    CustomerFactory(username="alice", organisation=organisation, email="alice@contoso.example")
    callback = oidc_provider.sign_in(client.get("/accounts/sso/contoso/")["Location"], "alice")
    path = callback.removeprefix("http://testserver")
    assert client.get(path).status_code == 302
    client.logout()
    again = client.get(path)
    assert again.status_code == 403
    assert "already used or has expired" in again.content.decode()


def test_password_sign_in_off_for_the_organisation_refuses_the_right_password_with_the_reason(
    client, organisation, contoso_sso
):
    organisation.password_login = False
    organisation.save()
    alice = CustomerFactory(username="alice", organisation=organisation, email="alice@contoso.example")
    alice.set_password("correct-horse-battery-9")
    alice.save()
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery-9"})
    assert response.status_code == 200
    assert "signs in with single sign-on" in response.content.decode()
    assert "_auth_user_id" not in client.session
    api = APIClient().post("/api/token/", {"username": "alice", "password": "correct-horse-battery-9"})
    assert api.status_code == 403 and "single sign-on" in api.json()["detail"]


def test_staff_password_sign_in_can_be_turned_off(client, settings):
    settings.STAFF_PASSWORD_LOGIN = False
    engineer = UserFactory(username="engineer", role=User.Role.ENGINEER)
    engineer.set_password("correct-horse-battery-9")
    engineer.save()
    response = client.post(
        "/accounts/login/", {"username": "engineer", "password": "correct-horse-battery-9"}
    )
    assert "signs in with single sign-on" in response.content.decode()


def test_an_address_without_a_provider_gets_a_clear_message(client, contoso_sso):
    response = client.post("/accounts/sso/", {"email": "someone@elsewhere.example"}, follow=True)
    assert "No single sign-on is set up for that address" in response.content.decode()
