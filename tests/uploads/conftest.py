"""Helpers for upload tests: tokens, tus URLs and raw tus requests through DRF's test client."""

from __future__ import annotations

import base64
import hashlib

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

TUS = {"HTTP_TUS_RESUMABLE": "1.0.0"}


def tus_url(case) -> str:
    return f"/api/cases/{case.number}/uploads/tus/"


def metadata(filename: str) -> str:
    return "filename " + base64.b64encode(filename.encode()).decode()


def sha256_b64(data: bytes) -> str:
    return "sha256 " + base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture
def token_client():
    """An APIClient authenticated by a personal token, as a customer's script would be."""

    def _client(user) -> APIClient:
        client = APIClient()
        token, _created = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return _client


@pytest.fixture
def tus_create(token_client):
    """POST a tus creation and return the response (``Location`` on success)."""

    def _create(user, case, size: int, filename: str = "MEMORY.DMP", **extra):
        client = token_client(user)
        return client.post(
            tus_url(case),
            HTTP_UPLOAD_LENGTH=str(size),
            HTTP_UPLOAD_METADATA=metadata(filename),
            **TUS,
            **extra,
        )

    return _create


@pytest.fixture
def tus_patch(token_client):
    def _patch(user, location: str, offset: int, data: bytes, checksum: str | None = None, **extra):
        client = token_client(user)
        headers = {**TUS, "HTTP_UPLOAD_OFFSET": str(offset), **extra}
        if checksum:
            headers["HTTP_UPLOAD_CHECKSUM"] = checksum
        content_type = headers.pop("content_type", "application/offset+octet-stream")
        return client.generic("PATCH", location, data, content_type=content_type, **headers)

    return _patch
