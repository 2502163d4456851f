"""Error pages in the site's layout and the reader's language, with a way back; never Django's debug
page for an address that does not exist."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("debug", [True, False])
def test_an_address_that_does_not_exist_gets_the_sites_404_page(client, engineer, settings, debug):
    settings.DEBUG = debug
    client.force_login(engineer)
    response = client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page and 'href="/cases/"' in page and "URLconf" not in page


def test_another_organisations_case_is_the_same_404(client, other_customer, case, settings):
    settings.DEBUG = True
    client.force_login(other_customer)
    response = client.get(f"/cases/{case.number}/")
    assert response.status_code == 404 and "Page not found" in response.content.decode()


def test_a_page_for_another_role_is_a_styled_403_in_the_readers_language(client, engineer):
    engineer.language = "zh-hans"
    engineer.save()
    client.force_login(engineer)
    response = client.get("/review/")
    page = response.content.decode()
    assert response.status_code == 403
    assert '<html lang="zh-hans">' in page and "返回" in page and 'class="topbar"' in page


def test_an_expired_form_is_explained(engineer, case):
    client = Client(enforce_csrf_checks=True)
    client.force_login(engineer)
    response = client.post(f"/cases/{case.number}/message/", {"body": "hello"})
    assert response.status_code == 403 and "The form expired" in response.content.decode()


def test_the_api_keeps_its_own_answers(api_client, engineer):
    api_client.force_authenticate(engineer)
    assert api_client.get("/api/cases/CAS-00000-NOPE00/").json() == {"detail": "No such case."}
