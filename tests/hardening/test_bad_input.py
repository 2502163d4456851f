"""Bad input is a 400, never a 500 (issue 14, item 6): a NUL anywhere in a request, on every route of the
portal (the authorisation matrix's route table), and non-ASCII digits where numbers are read.

PostgreSQL refuses NUL in text and jsonb, so on that database these were 500s; the tests run on both.
"""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from cases.models import AuditEvent
from tests.test_authorisation_matrix import RULES
from tests.uploads.conftest import TUS, metadata, tus_url

pytestmark = pytest.mark.django_db

NUL_MESSAGE = "contains a NUL character"


def _url(name: str, case) -> str:
    _method, kwargs, _body, _expected = RULES[name]
    kwargs = {key: case.number if value == "CASE" else value for key, value in kwargs.items()}
    kwargs = {key: value(case) if callable(value) else value for key, value in kwargs.items()}
    return reverse(name, kwargs=kwargs)


def _send(client, name: str, url: str, *, data=None, content_type=None, **extra):
    method = RULES[name][0]
    headers = dict(RULES[name][2].get("headers", {}))
    headers.update(extra)
    if method in {"get", "head"}:
        return getattr(client, method)(url, data or {}, **headers)
    if content_type is not None:
        return getattr(client, method)(url, data, content_type=content_type, **headers)
    return getattr(client, method)(url, data or {}, **headers)


@pytest.fixture
def signed_in(client, engineer):
    client.force_login(engineer)
    return client


@pytest.mark.parametrize("name", sorted(RULES))
def test_nul_in_the_path_is_400_on_every_route(name, signed_in, scoped_case):
    url = _url(name, scoped_case)
    # Into the case number when the route has one (the reported 500), else at the end of the path.
    bad = (
        url.replace(scoped_case.number, scoped_case.number + "%00", 1)
        if scoped_case.number in url
        else url + "%00"
    )
    before = AuditEvent.objects.count()
    response = _send(signed_in, name, bad)
    assert response.status_code == 400, (name, bad, response.status_code)
    assert NUL_MESSAGE.encode() in response.content or name == "api:upload_tus_detail"  # HEAD: no body
    assert AuditEvent.objects.count() == before  # nothing happened


@pytest.mark.parametrize("name", sorted(RULES))
def test_nul_in_the_query_is_400_on_every_route(name, signed_in, scoped_case):
    url = _url(name, scoped_case) + "?q=CAS%00&number=x%00&page=1"
    response = _send(signed_in, name, url)
    assert response.status_code == 400, (name, response.status_code)


@pytest.mark.parametrize("name", sorted(RULES))
def test_nul_in_a_header_or_cookie_is_400_on_every_route(name, client, engineer, scoped_case):
    client.force_login(engineer)
    url = _url(name, scoped_case)
    assert _send(client, name, url, HTTP_X_PROBE="a\x00b").status_code == 400, name
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"  # a session key is looked up in the database
    assert _send(client, name, url).status_code == 400, name


@pytest.mark.parametrize("name", sorted(n for n, rule in RULES.items() if rule[0] == "post"))
def test_nul_in_a_form_or_json_body_is_400_on_every_route(name, signed_in, scoped_case):
    url = _url(name, scoped_case)
    before = AuditEvent.objects.count()
    form = _send(signed_in, name, url, data={"body": "hello\x00", "title": "x", "email": "a@b.c"})
    assert form.status_code == 400, (name, "form", form.status_code)
    document = json.dumps({"comment": "ok", "nested": [{"title": "x\x00"}]})
    as_json = _send(signed_in, name, url, data=document, content_type="application/json")
    assert as_json.status_code == 400, (name, "json", as_json.status_code)
    assert AuditEvent.objects.count() == before


def test_nul_in_search_and_filters_of_lists_is_400_with_the_reason(signed_in, scoped_case):
    for url in ("/cases/?q=CAS-%00", "/api/cases/?state=new%00", "/oversight/audit/?action=%00"):
        response = signed_in.get(url)
        assert response.status_code == 400, url
    answer = signed_in.get("/api/cases/?search=%00")
    assert answer.json() == {
        "detail": "The request's query contains a NUL character, which is never valid here."
    }


def test_a_file_chunk_with_nul_bytes_is_stored_untouched(tus_create, tus_patch, customer, scoped_case):
    """Binary bodies are never inspected: a dump is full of NUL bytes."""
    data = b"PAGEDU64" + b"\x00" * 4096
    created = tus_create(customer, scoped_case, len(data))
    assert created.status_code == 201
    patched = tus_patch(customer, created["Location"], 0, data)
    assert patched.status_code == 204


# -- non-ASCII digits -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["\xb2", "１０", "٣", "1\xb2", " ", "-1", "+5", "0x10"])
def test_upload_length_in_anything_but_ascii_digits_is_400(value, token_client, customer, scoped_case):
    client = token_client(customer)
    response = client.post(
        tus_url(scoped_case), HTTP_UPLOAD_LENGTH=value, HTTP_UPLOAD_METADATA=metadata("a.dmp"), **TUS
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Upload-Length must be a non-negative whole number."
    assert not scoped_case.uploads.exists()


@pytest.mark.parametrize("value", ["\xb2", "０", "٠", "0\xb2"])
def test_upload_offset_in_anything_but_ascii_digits_is_400_and_keeps_the_offset(
    value, tus_create, token_client, customer, scoped_case
):
    created = tus_create(customer, scoped_case, 10)
    client = token_client(customer)
    response = client.generic(
        "PATCH",
        created["Location"],
        b"0123456789",
        content_type="application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET=value,
        **TUS,
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Upload-Offset must be a non-negative whole number."
    assert client.head(created["Location"], **TUS)["Upload-Offset"] == "0"


def test_upload_metadata_with_non_ascii_or_nul_is_400(token_client, customer, scoped_case):
    client = token_client(customer)
    # "é" is not base64; YQBi decodes to "a\x00b" (a NUL in a file name is sanitised away: S11)
    for value in ("filename é", "note YQBi"):
        response = client.post(
            tus_url(scoped_case), HTTP_UPLOAD_LENGTH="3", HTTP_UPLOAD_METADATA=value, **TUS
        )
        assert response.status_code == 400, value
        assert response.json()["detail"] == "Upload-Metadata is not valid."
    assert not scoped_case.uploads.exists()


@pytest.mark.parametrize("name", sorted(RULES))
def test_non_ascii_digits_in_queries_and_headers_are_never_a_500(name, signed_in, scoped_case):
    url = _url(name, scoped_case) + "?page=\xb2&since=２０２６-01-01&q=\xb2"
    response = _send(signed_in, name, url, HTTP_UPLOAD_LENGTH="\xb2", HTTP_UPLOAD_OFFSET="\xb2")
    assert response.status_code < 500, (name, response.status_code)
