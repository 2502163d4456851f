"""The Content Security Policy header built once is the header django-csp builds, a view that changes
its own policy still gets its change, and a nonce (which the policy never has) is refused."""

from __future__ import annotations

import pytest
from csp.utils import build_policy

pytestmark = pytest.mark.django_db


def test_every_page_gets_the_policy_of_the_settings(client, engineer, case):
    client.force_login(engineer)
    expected = build_policy()
    for url in ("/accounts/login/", "/cases/", f"/cases/{case.number}/", f"/cases/{case.number}/version/"):
        assert client.get(url)["Content-Security-Policy"] == expected, url
    assert "Content-Security-Policy-Report-Only" not in client.get("/cases/")


def test_a_view_that_updates_its_policy_keeps_its_update(client, manager):
    client.force_login(manager)
    policy = client.get("/api/docs/")["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in policy
    assert "unsafe-inline" not in client.get("/cases/")["Content-Security-Policy"]


def test_a_page_asking_for_a_nonce_fails_loudly(rf):
    """The policy has no nonces: a template or view that asks for one is an error (a 500 in tests), never
    a script the policy silently blocks in the browser."""
    from csp.exceptions import CSPNonceError
    from django.http import HttpResponse

    from config.content_policy import ConstantPolicyMiddleware

    def view(request):  # type: ignore[no-untyped-def]
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")

    with pytest.raises(CSPNonceError):
        ConstantPolicyMiddleware(view)(rf.get("/"))


def test_the_asgi_stack_serves_pages_with_the_policy(async_client):
    """config/asgi.py runs the same middleware: the synchronous ones in a thread, the policy still set."""
    from asgiref.sync import async_to_sync

    response = async_to_sync(async_client.get)("/accounts/login/")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == build_policy()
