"""The top bar of every page comes from the cache per reader, language and unread count
(communications/templatetags/page_header.py): each request still gets its own CSRF token and return
address, a new notice shows at once, and no reader ever sees another's bar."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from cases import services
from cases.models import AuditEvent
from communications.tasks import notify_case_event

pytestmark = pytest.mark.django_db


def _header(page: str) -> str:
    return page[page.index('<header class="topbar">') : page.index("</header>")]


def _token(page: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', _header(page)).group(1)


def test_each_request_gets_its_own_token_and_address(engineer, case):
    first, second = Client(), Client()
    first.force_login(engineer)
    second.force_login(engineer)
    page_one = first.get("/cases/").content.decode()
    page_two = second.get(f"/cases/{case.number}/?x=<b>").content.decode()  # the header from the cache
    assert _token(page_one) != _token(page_two)
    assert 'name="next" value="/cases/"' in _header(page_one)
    assert f'name="next" value="/cases/{case.number}/?x=%3Cb%3E"' in _header(page_two)
    assert "placeholder0000" not in page_one + page_two
    # The language switch in a cached header still works with its token.
    answer = second.post("/accounts/language/", {"language": "zh-hans", "next": "/cases/"})
    assert answer.status_code == 302


def test_a_new_notice_shows_at_once(client, engineer, customer, case):
    client.force_login(engineer)
    assert 'data-unread="0"' in client.get("/cases/").content.decode()
    services.timeline_add(actor=customer, case=case, body="The dumps are uploaded")
    notify_case_event(AuditEvent.objects.get(action="message_added").pk)
    assert 'data-unread="1"' in client.get("/cases/").content.decode()


def test_readers_never_share_a_header(client, engineer, other_engineer, manager):
    headers = {}
    for person in (engineer, other_engineer, manager):
        client.force_login(person)
        headers[person.username] = _header(client.get("/cases/").content.decode())
    assert "other_engineer" not in headers["engineer"] and "engineer" in headers["engineer"]
    assert 'href="/reports/"' in headers["manager"] and 'href="/reports/"' not in headers["engineer"]


def test_the_header_follows_the_language(client, engineer):
    client.force_login(engineer)
    assert "Log out" in _header(client.get("/cases/").content.decode())
    client.post("/accounts/language/", {"language": "zh-hans", "next": "/cases/"})
    assert "Log out" not in _header(client.get("/cases/").content.decode())
