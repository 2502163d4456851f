"""Security settings and sign-in protections (what each bad input gets)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings

from cases.models import AuditEvent
from config.settings import PASSWORD_HASHERS as PRODUCTION_PASSWORD_HASHERS
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def test_pages_carry_a_strict_content_security_policy(client):
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "object-src 'none'", "base-uri 'none'"):
        assert directive in policy
    assert "unsafe-inline" not in policy


def test_pages_have_no_inline_scripts_or_styles(client, engineer, case):
    client.force_login(engineer)
    for url in ("/cases/", f"/cases/{case.number}/", "/cases/new/", "/accounts/password/"):
        html = client.get(url).content.decode()
        assert "<script>" not in html and "style=" not in html and "<style" not in html, url


def test_nosniff_and_frame_denied(client):
    response = client.get("/accounts/login/")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"


def test_five_wrong_passwords_lock_that_user_for_a_while(client, customer, engineer):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    assert "Please try again in 15 minutes" in locked.content.decode()


def test_lockout_of_one_user_name_leaves_others_alone(client, customer, engineer, settings):
    settings.AXES_LOCKOUT_PARAMETERS = ["username"]
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    ok = client.post("/accounts/login/", {"username": "engineer", "password": PASSWORD})
    assert ok.status_code == 302


def test_login_rotates_the_session_key(client, customer):
    client.get("/accounts/login/")
    client.cookies["sessionid"] = "attacker-chosen"
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert client.cookies["sessionid"].value != "attacker-chosen"


def test_deactivated_user_session_ends(client, customer):
    client.force_login(customer)
    customer.is_active = False
    customer.save()
    assert client.get("/cases/").status_code == 302


def test_api_token_can_be_revoked_by_its_owner(api_client, customer):
    token = api_client.post("/api/token/", {"username": "alice", "password": PASSWORD}).json()["token"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api_client.get("/api/cases/").status_code == 200
    assert api_client.delete("/api/token/").status_code == 204
    assert api_client.get("/api/cases/").status_code == 401


def test_passwords_are_hashed_with_argon2id(customer):
    # The suite hashes with MD5 for speed (tests/conftest.py); the settings module's own list is production's.
    assert PRODUCTION_PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=PRODUCTION_PASSWORD_HASHERS):
        customer.set_password(PASSWORD)
        customer.save()
        assert customer.password.startswith("argon2$argon2id$")
        response = Client().post("/accounts/login/", {"username": customer.username, "password": PASSWORD})
        assert response.status_code == 302


def test_production_settings_pass_the_deploy_check(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "x" * 64 + "-not-a-real-secret-but-long-and-varied-0123456789",
        "ALLOWED_HOSTS": "support.example.com",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = {**os.environ, "DEBUG": "0", "PORTAL_VAR_DIR": str(tmp_path)}
    env.pop("SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_seed_demo_refuses_when_debug_is_off(tmp_path):
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": "k" * 60,
        "ALLOWED_HOSTS": "x",
        "PORTAL_VAR_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "DEBUG" in result.stderr


def test_sign_ins_and_failures_are_audited(client, customer):

    client.post("/accounts/login/", {"username": "alice", "password": "wrong-password"})
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    failed = AuditEvent.objects.get(action="login_failed")
    assert failed.data["username"] == "alice" and "wrong-password" not in str(failed.data)
    assert AuditEvent.objects.filter(action="login", actor=customer).exists()
