"""Single sign-on in a real browser: the portal's sign-in page, the organisation's provider (a real
django-oauth-toolkit OpenID provider in its own process) and back. Saves the screenshots of the README
with PORTAL_SCREENSHOTS=1."""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.factories import CustomerFactory, UserFactory
from tests.sso.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def callbacks(live_server, oidc_provider):
    oidc_provider.configure(
        [
            f"{live_server.url}/accounts/sso/contoso/callback/",
            f"{live_server.url}/accounts/sso/support/callback/",
        ]
    )


def _at_provider(page, oidc_provider, username: str) -> None:
    page.wait_for_url(f"{oidc_provider.url}/accounts/login/**")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("#provider-sign-in")


def test_a_customer_signs_in_through_contosos_provider(
    page,
    live_server,
    oidc_provider,
    contoso_sso,
    callbacks,
    organisation,
    shots,
):
    CustomerFactory(
        username="alice", organisation=organisation, email="alice@contoso.example", first_name="Alice"
    )
    page.goto(f"{live_server.url}/accounts/login/")
    page.click("text=Sign in with your organisation")
    page.fill("#id_email", "alice@contoso.example")
    page.screenshot(path=str(shots / "sso-choose.png"))
    page.click("#sso-continue")
    _at_provider(page, oidc_provider, "alice")
    page.wait_for_url(f"{live_server.url}/cases/")
    assert page.is_visible("text=Alice")
    page.screenshot(path=str(shots / "sso-signed-in.png"))


def test_an_unverified_address_is_refused_with_the_reason(
    page,
    live_server,
    oidc_provider,
    contoso_sso,
    callbacks,
    shots,
):
    page.goto(f"{live_server.url}/accounts/sso/contoso/")
    _at_provider(page, oidc_provider, "dave")
    page.wait_for_selector("text=Sign-in refused")
    assert page.is_visible("text=Your e-mail address is not verified")
    page.screenshot(path=str(shots / "sso-refused.png"))


def test_staff_with_mfa_at_the_provider_go_straight_to_their_cases(
    page,
    live_server,
    oidc_provider,
    staff_sso,
    callbacks,
    settings,
):
    settings.TWO_FACTOR_REQUIRED_ROLES = ["engineer", "manager"]
    UserFactory(username="eve", role=User.Role.ENGINEER, email="eve@support.example")
    page.goto(f"{live_server.url}/accounts/sso/")
    page.fill("#id_email", "eve@support.example")
    page.click("#sso-continue")
    _at_provider(page, oidc_provider, "eve")
    page.wait_for_url(f"{live_server.url}/cases/")
