"""API token lifecycle (issue 14, item 5): tokens outlived a password change and never expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "another-long-passphrase-42"


def _token(user) -> str:
    answer = APIClient().post("/api/token/", {"username": user.username, "password": PASSWORD})
    assert answer.status_code == 200
    return answer.json()["token"]


def _calls(key: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client.get("/api/cases/").status_code


def test_changing_the_password_on_the_page_revokes_every_token(client, customer):
    key = _token(customer)
    assert _calls(key) == 200
    client.force_login(customer)
    answer = client.post(
        "/accounts/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert answer.status_code == 302
    assert _calls(key) == 401
    event = AuditEvent.objects.get(action="api_token_revoked")
    assert event.actor == customer and event.data == {"key_start": key[:6], "reason": "password changed"}


def test_a_password_set_by_an_admin_or_a_script_revokes_too(customer):
    key = _token(customer)
    customer.set_password(NEW_PASSWORD)
    customer.save()
    assert _calls(key) == 401


def test_deactivating_the_account_revokes_every_token(customer):
    key = _token(customer)
    customer.is_active = False
    customer.save(update_fields=["is_active"])
    assert not Token.objects.filter(user=customer).exists()
    assert AuditEvent.objects.get(action="api_token_revoked").data["reason"] == "account deactivated"
    customer.is_active = True
    customer.save()
    assert _calls(key) == 401  # reactivated: the old token stays dead


def test_signing_in_and_other_saves_keep_the_token(client, customer):
    key = _token(customer)
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})  # saves last_login
    customer.first_name = "Alice"
    customer.save()
    assert _calls(key) == 200


def test_a_hash_upgraded_at_sign_in_keeps_the_token(customer):
    key = _token(customer)  # the suite hashes with MD5
    hashers = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    with override_settings(PASSWORD_HASHERS=hashers):
        assert customer.check_password(PASSWORD)  # Django rehashes with the preferred hasher and saves
    customer.refresh_from_db()
    assert customer.password.startswith("pbkdf2_sha256$")
    assert _calls(key) == 200


def test_a_token_expires_after_the_configured_days(customer, settings):
    settings.API_TOKEN_EXPIRY_DAYS = 90
    key = _token(customer)
    Token.objects.filter(key=key).update(created=timezone.now() - timedelta(days=91))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    answer = client.get("/api/cases/")
    assert answer.status_code == 401
    assert answer.json()["detail"] == "This token has expired. Sign in to the portal and create a new one."
    fresh = _token(customer)  # asking again gives a new one
    assert fresh != key and _calls(fresh) == 200
    upload_api = APIClient()
    upload_api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert upload_api.get("/api/uploads/00000000-0000-0000-0000-000000000000/").status_code == 401


def test_the_token_answer_says_when_it_expires(customer, settings):
    settings.API_TOKEN_EXPIRY_DAYS = 30
    answer = APIClient().post("/api/token/", {"username": "alice", "password": PASSWORD}).json()
    expires = timezone.datetime.fromisoformat(answer["expires_at"])
    assert timedelta(days=29) < expires - timezone.now() <= timedelta(days=30)


def test_the_tokens_page_lists_creates_once_and_revokes(client, customer):
    client.force_login(customer)
    assert "You have no API token." in client.get("/accounts/tokens/").content.decode()
    assert client.post("/accounts/tokens/new/").status_code == 302
    key = Token.objects.get(user=customer).key
    page = client.get("/accounts/tokens/").content.decode()
    assert key in page and f"{key[:6]}…" in page  # the key is shown once, right after it was made
    again = client.get("/accounts/tokens/").content.decode()
    assert key not in again and f"{key[:6]}…" in again
    assert _calls(key) == 200
    answer = client.post("/accounts/tokens/revoke/", {"key_start": key[:6]}, follow=True)
    assert "Token revoked" in answer.content.decode()
    assert _calls(key) == 401


def test_revoking_someone_elses_or_an_unknown_token_does_nothing(client, customer, other_customer):
    theirs = _token(other_customer)
    client.force_login(customer)
    for key_start in (theirs[:6], "", "abc"):
        answer = client.post("/accounts/tokens/revoke/", {"key_start": key_start}, follow=True)
        assert "No such token." in answer.content.decode()
    assert _calls(theirs) == 200


def test_the_tokens_page_speaks_chinese(client, customer):
    customer.language = "zh-hans"
    customer.save()
    client.force_login(customer)
    page = client.get("/accounts/tokens/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "令牌有效期为 90 天" in page and "您没有 API 令牌。" in page
