"""Session requests that change state need the CSRF token and a same-site Origin (research/reliability.md S4)."""

from __future__ import annotations

import pytest
from django.test import Client

from cases.models import TimelineEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(customer) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(customer)
    return client


def _token(browser: Client, case) -> str:
    browser.get(f"/cases/{case.number}/")
    return browser.cookies["csrftoken"].value


def test_api_post_with_a_session_and_no_csrf_token_is_403(browser, scoped_case):
    response = browser.post(
        f"/api/cases/{scoped_case.number}/timeline/", {"body": "hi"}, content_type="application/json"
    )
    assert response.status_code == 403
    assert not TimelineEntry.objects.filter(body="hi").exists()


def test_page_post_with_a_foreign_origin_is_403_even_with_the_token(browser, scoped_case):
    token = _token(browser, scoped_case)
    response = browser.post(
        f"/cases/{scoped_case.number}/message/",
        {"body": "from evil", "csrfmiddlewaretoken": token},
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert not TimelineEntry.objects.filter(body="from evil").exists()


def test_api_post_with_a_foreign_origin_is_403_even_with_the_token(browser, scoped_case):
    token = _token(browser, scoped_case)
    response = browser.post(
        f"/api/cases/{scoped_case.number}/timeline/",
        {"body": "from evil"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert not TimelineEntry.objects.filter(body="from evil").exists()


def test_same_origin_with_the_token_is_accepted(browser, scoped_case):
    token = _token(browser, scoped_case)
    response = browser.post(
        f"/api/cases/{scoped_case.number}/timeline/",
        {"body": "fine"},
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code in (200, 201)
