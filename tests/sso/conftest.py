"""A real OpenID Connect provider run by the tests: django-oauth-toolkit under gunicorn in its own process,
with its own database and RSA signing key, on a free port of 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from accounts.models import IdentityProvider, User
from tests.storage.moto_server import free_port, wait_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PASSWORD = "provider-pass-1"
CONTOSO_SECRET = "contoso-client-secret-0123456789"
STAFF_SECRET = "staff-client-secret-0123456789"

PEOPLE = [
    {"username": "alice", "email": "alice@contoso.example"},
    {"username": "carol", "email": "carol@contoso.example", "first_name": "Carol"},
    {"username": "dave", "email": "dave@contoso.example", "last_name": "unverified"},
    {"username": "mallory", "email": "mallory@fabrikam.example"},
    {"username": "eve", "email": "eve@support.example", "last_name": "mfa"},
    {"username": "sam", "email": "sam@support.example"},
]


class OidcProvider:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.issuer = f"{self.url}/o"
        self.redirects: list[str] = []
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_file = folder / "provider-key.pem"
        self.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DJANGO_SETTINGS_MODULE": "tests.sso.provider.settings",
            "PROVIDER_DB": str(folder / "provider.sqlite3"),
            "PROVIDER_KEY_FILE": str(self.key_file),
            "PROVIDER_ISSUER": self.issuer,
        }
        for name in ("DATABASE_URL", "REDIS_URL", "PYTEST_XDIST_WORKER"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / "provider.log"

    def configure(self, redirects: list[str]) -> None:
        """Create (or update) the provider's users and the portal's two client applications."""
        self.redirects = sorted(set(self.redirects) | set(redirects))
        config = {
            "users": [{**person, "password": PASSWORD} for person in PEOPLE],
            "applications": [
                {
                    "client_id": "portal-contoso",
                    "client_secret": CONTOSO_SECRET,
                    "redirect_uris": [u for u in self.redirects if "/contoso/" in u],
                },
                {
                    "client_id": "portal-staff",
                    "client_secret": STAFF_SECRET,
                    "redirect_uris": [u for u in self.redirects if "/support/" in u],
                },
            ],
        }
        path = self.folder / "provider.json"
        path.write_text(json.dumps(config))
        subprocess.run(
            [sys.executable, "-m", "tests.sso.provider", "setup", str(path)],
            cwd=ROOT, env=self.env, check=True, capture_output=True,
        )  # fmt: skip

    def start(self) -> OidcProvider:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [GUNICORN, "tests.sso.provider.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "1", "--threads", "4", "--log-level", "warning"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def sign_in(self, authorize_url: str, username: str) -> str:
        """What a browser does at the provider: follow the authorisation request to the sign-in page, sign
        in, and return the address the provider sends the browser back to (the portal's callback)."""
        session = requests.Session()
        response = session.get(authorize_url, allow_redirects=True, timeout=10)
        assert response.status_code == 200 and "csrfmiddlewaretoken" in response.text, response.text[:500]
        token = response.text.split('name="csrfmiddlewaretoken" value="')[1].split('"')[0]
        next_url = parse_qs(urlsplit(response.url).query)["next"][0]
        answer = session.post(
            response.url,
            data={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD, "next": next_url},
            headers={"Referer": response.url},
            allow_redirects=False,
            timeout=10,
        )
        assert answer.status_code == 302, answer.text[:500]
        answer = session.get(urljoin(self.url, answer.headers["Location"]), allow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    provider = OidcProvider(tmp_path_factory.mktemp("oidc-provider"))
    provider.configure(
        [
            "http://testserver/accounts/sso/contoso/callback/",
            "http://testserver/accounts/sso/support/callback/",
        ]
    )
    provider.start()
    yield provider
    provider.stop()


@pytest.fixture
def contoso_sso(db, organisation, oidc_provider) -> IdentityProvider:
    return IdentityProvider.objects.create(
        name="Contoso sign-in",
        slug="contoso",
        organisation=organisation,
        issuer=oidc_provider.issuer,
        client_id="portal-contoso",
        client_secret=CONTOSO_SECRET,
        email_domains="contoso.example",
        new_user_role=User.Role.CUSTOMER,
    )


@pytest.fixture
def staff_sso(db, oidc_provider) -> IdentityProvider:
    return IdentityProvider.objects.create(
        name="Support company sign-in",
        slug="support",
        organisation=None,
        issuer=oidc_provider.issuer,
        client_id="portal-staff",
        client_secret=STAFF_SECRET,
        email_domains="support.example",
        new_user_role=User.Role.ENGINEER,
        create_users=False,
    )
