"""The case page's fragments, cached per case version: a fixed query budget however much the case holds,
never another role's content, forms that carry each reader's own CSRF token, and every write seen on the
next view."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from analysis.models import Crash, Finding
from cases import conversation, services
from cases.models import TimelineEntry
from tests.factories import CustomerFactory
from uploads.models import Upload

pytestmark = pytest.mark.django_db


def _fill(case, engineer, customer, size: int) -> None:
    """A case with ``size`` uploads, crashes, findings and messages."""
    for n in range(size):
        upload = Upload.objects.create(
            case=case, uploaded_by=customer, filename=f"{n}.dmp", size=1, offset=1, state="analysed"
        )
        Crash.objects.create(
            upload=upload, case=case, index=0, code="0x000000be", third_party_drivers=["av.sys"]
        )
        Finding.objects.create(
            case=case, upload=upload, seq=n, severity="high", code="x", title=f"Finding {n}"
        )
        services.timeline_add(actor=engineer, case=case, body=f"Update {n}")


@pytest.mark.parametrize("size", [1, 40])
def test_a_warm_case_page_costs_at_most_twelve_queries_whatever_the_case_holds(
    scoped_case, engineer, customer, client, django_assert_max_num_queries, size
):
    _fill(scoped_case, engineer, customer, size)
    url = f"/cases/{scoped_case.number}/"
    for person in (engineer, customer):
        client.force_login(person)
        client.get(url)  # renders and caches the fragments of this version for this role
        with django_assert_max_num_queries(12):
            assert client.get(url).status_code == 200


def test_a_cold_case_page_costs_the_same_for_a_small_and_a_large_case(
    scoped_case, case, engineer, customer, client
):

    _fill(scoped_case, engineer, customer, 30)
    counts = []
    client.force_login(engineer)
    for number in (case.number, scoped_case.number):
        with CaptureQueriesContext(connection) as queries:
            client.get(f"/cases/{number}/")
        counts.append(len(queries))
    assert (
        counts[0] + 3 >= counts[1]
    )  # the scoped case adds its scope, documents and timeline: no per-row query


def test_a_role_never_reads_another_roles_fragment(scoped_case, engineer, customer, client):
    services.timeline_add(
        actor=engineer, case=scoped_case, body="INTERNAL: their admin is difficult", internal=True
    )
    url = f"/cases/{scoped_case.number}/"
    client.force_login(engineer)
    assert "INTERNAL" in client.get(url).content.decode()  # cached for staff first
    client.force_login(customer)
    assert "INTERNAL" not in client.get(url).content.decode()


def test_every_write_is_on_the_next_view(scoped_case, engineer, customer, client):
    url = f"/cases/{scoped_case.number}/"
    client.force_login(customer)
    client.get(url)
    services.timeline_add(actor=engineer, case=scoped_case, body="Please upload the minidump")
    assert "Please upload the minidump" in client.get(url).content.decode()


def test_forms_in_a_cached_fragment_carry_the_readers_own_token(scoped_case, customer, organisation):
    colleague = CustomerFactory(username="carol", organisation=organisation)
    url = f"/cases/{scoped_case.number}/"
    first = Client(enforce_csrf_checks=True)
    first.force_login(customer)
    first_page = first.get(url).content.decode()  # caches the scope section with its answer form
    second = Client(enforce_csrf_checks=True)
    second.force_login(colleague)
    page = second.get(url).content.decode()
    tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))
    assert tokens and "casefragmentcsrfplaceholder" not in page
    assert not tokens & set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', first_page))
    response = second.post(url + "scope/answer/", {"accepted": "1", "csrfmiddlewaretoken": tokens.pop()})
    assert response.status_code == 302
    assert scoped_case.scope_versions.get().acknowledgements.get().author == colleague


def test_an_answer_moves_the_case_on_everyones_next_view(scoped_case, engineer, customer, client):
    url = f"/cases/{scoped_case.number}/"
    client.force_login(engineer)
    assert 'data-state="awaiting_customer"' in client.get(url).content.decode()
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True)
    assert 'data-state="investigating"' in client.get(url).content.decode()
    assert TimelineEntry.objects.filter(event__action="scope_accepted").exists()
