"""Every ID token check, against a provider that answers what each test tells it to: a real HTTP server
(discovery, published keys, token endpoint) whose tokens the test mints. Wrong audience, wrong issuer,
wrong nonce, a retired signing key, an expired token: the sign-in is refused with a clear message and
an audit entry, and nobody is signed in."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from accounts.models import IdentityProvider, User
from cases.models import AuditEvent
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

CLIENT_ID = "portal-hostile"


class Provider:
    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "current"})
        self.retired = RSAKey.generate_key(2048, parameters={"kid": "retired"})
        self.id_token = ""
        self.token_requests = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/.well-known/openid-configuration":
                    self._json(
                        {
                            "issuer": owner.issuer,
                            "authorization_endpoint": owner.issuer + "/authorize",
                            "token_endpoint": owner.issuer + "/token",
                            "jwks_uri": owner.issuer + "/jwks",
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "response_types_supported": ["code"],
                        }
                    )
                elif self.path == "/jwks":
                    self._json({"keys": [owner.key.as_dict(private=False)]})  # the retired key is gone
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner.token_requests += 1
                self._json(
                    {
                        "access_token": "at",
                        "token_type": "Bearer",
                        "expires_in": 60,
                        "id_token": owner.id_token,
                    }
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def mint(self, nonce: str, *, key: RSAKey | None = None, **claims: object) -> None:
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "sub": "42",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "email": "alice@contoso.example",
            "email_verified": True,
            **claims,
        }
        signer = key or self.key
        self.id_token = jwt.encode({"alg": "RS256", "kid": signer.kid}, body, signer)


@pytest.fixture
def hostile():
    provider = Provider()
    yield provider
    provider.server.shutdown()


@pytest.fixture
def hostile_sso(db, organisation, hostile):
    CustomerFactory(username="alice", organisation=organisation, email="alice@contoso.example")
    return IdentityProvider.objects.create(
        name="Contoso", slug="hostile", organisation=organisation, issuer=hostile.issuer,
        client_id=CLIENT_ID, client_secret="secret", new_user_role=User.Role.CUSTOMER,
    )  # fmt: skip


def _attempt(client, hostile, **mint):
    """Start a sign-in, let the provider answer with the token ``mint`` describes, come back."""
    location = client.get("/accounts/sso/hostile/")["Location"]
    query = parse_qs(urlsplit(location).query)
    nonce = mint.pop("nonce", query["nonce"][0])
    hostile.mint(nonce, **mint)
    return client.get(f"/accounts/sso/hostile/callback/?code=abc&state={query['state'][0]}")


def test_a_valid_token_signs_in(client, hostile, hostile_sso):
    response = _attempt(client, hostile)
    assert response.status_code == 302
    assert client.session["_auth_user_id"]


@pytest.mark.parametrize(
    ("mint", "message", "reason"),
    [
        # Authlib checks the authorised party first when the audience is not us: the same refusal.
        ({"aud": "another-application"}, "wrong audience", ("invalid claim aud", "invalid claim azp")),
        ({"iss": "http://127.0.0.1:1/evil"}, "another issuer", "invalid claim iss"),
        ({"nonce": "not-the-nonce-of-this-attempt"}, "nonce mismatch", "invalid claim nonce"),
        ({"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200}, "has expired", "expired token"),
    ],
    ids=["audience", "issuer", "nonce", "expired"],
)
def test_a_bad_id_token_is_refused_with_a_clear_message_and_audited(
    client, hostile, hostile_sso, mint, message, reason
):
    response = _attempt(client, hostile, **mint)
    assert response.status_code == 403
    assert message in response.content.decode()
    assert "_auth_user_id" not in client.session
    event = AuditEvent.objects.get(action="sso_refused")
    assert event.data["reason"].startswith(reason) and event.data["provider"] == "hostile"


def test_a_token_signed_with_a_retired_key_is_refused_after_the_keys_are_fetched_again(
    client, hostile, hostile_sso
):
    response = _attempt(client, hostile, key=hostile.retired)
    assert response.status_code == 403
    assert "no longer publishes" in response.content.decode()
    assert AuditEvent.objects.get(action="sso_refused").data["reason"].startswith("unknown signing key")


def test_a_token_signed_by_someone_else_with_the_current_key_id_is_refused(client, hostile, hostile_sso):
    forged = RSAKey.generate_key(2048, parameters={"kid": "current"})
    response = _attempt(client, hostile, key=forged)
    assert response.status_code == 403
    assert "signature does not verify" in response.content.decode()


def test_a_provider_that_does_not_answer_is_a_clear_refusal(client, hostile, hostile_sso):
    hostile.server.shutdown()
    hostile.server.server_close()
    IdentityProvider.objects.filter(pk=hostile_sso.pk).update(issuer="http://127.0.0.1:9/down")
    response = client.get("/accounts/sso/hostile/")
    assert response.status_code == 403
    assert "does not answer" in response.content.decode()
    assert AuditEvent.objects.get(action="sso_refused").data["reason"].startswith("discovery failed")


def test_the_provider_says_no(client, hostile, hostile_sso):
    client.get("/accounts/sso/hostile/")
    response = client.get("/accounts/sso/hostile/callback/?error=access_denied&error_description=nope")
    assert response.status_code == 403
    assert "did not sign you in (access_denied)" in response.content.decode()
    assert hostile.token_requests == 0
