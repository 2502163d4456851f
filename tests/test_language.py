"""Which language the pages speak: a signed-in user's saved language, the browser's for anonymous pages,
the header's switch for one session only; the saved language changes on the profile page only."""

from __future__ import annotations

import pytest

from accounts.models import User
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _lang(page: str) -> str:
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


def test_anonymous_pages_follow_the_browser(client):
    assert _lang(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()) == "zh-hans"
    assert _lang(client.get("/accounts/login/", HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()) == "en"


def test_signed_in_pages_follow_the_saved_language(client, customer):
    User.objects.filter(pk=customer.pk).update(language="zh-hans")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en")
    assert _lang(client.get("/cases/", HTTP_ACCEPT_LANGUAGE="en").content.decode()) == "zh-hans"


def test_the_switch_changes_this_session_only(client, customer):
    User.objects.filter(pk=customer.pk).update(language="zh-hans")
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    client.post("/accounts/language/", {"language": "en", "next": "/cases/"})
    assert _lang(client.get("/cases/").content.decode()) == "en"
    customer.refresh_from_db()
    assert customer.language == "zh-hans"  # documents and e-mails still use the saved one
    client.logout()
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert _lang(client.get("/cases/").content.decode()) == "zh-hans"


def test_a_switch_made_before_signing_in_stays_for_the_session(client, customer):
    User.objects.filter(pk=customer.pk).update(language="zh-hans")
    client.post("/accounts/language/", {"language": "en", "next": "/accounts/login/"})
    client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert _lang(client.get("/cases/").content.decode()) == "en"


def test_the_profile_page_changes_the_saved_language_and_names(client, customer):
    client.force_login(customer)
    response = client.post(
        "/accounts/profile/", {"first_name": "Alice", "last_name": "Chen", "language": "zh-hans"}
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert (customer.language, str(customer)) == ("zh-hans", "Alice Chen")
    assert _lang(client.get("/cases/").content.decode()) == "zh-hans"


def test_an_unknown_language_is_refused(client, customer):
    client.force_login(customer)
    response = client.post("/accounts/profile/", {"first_name": "A", "last_name": "C", "language": "xx"})
    assert response.status_code == 200 and "xx" in response.content.decode()
    customer.refresh_from_db()
    assert customer.language == ""
    client.post("/accounts/language/", {"language": "xx", "next": "/cases/"})
    assert _lang(client.get("/cases/", HTTP_ACCEPT_LANGUAGE="en").content.decode()) == "en"
