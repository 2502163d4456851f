"""The live case page's version: raised by every write the page shows, answered 304 while unchanged, in a
fixed handful of queries, and refused (404) to anyone who may not see the case."""

from __future__ import annotations

import pytest
from django.conf import settings

from analysis import services as analysis_services
from cases import conversation, services
from cases.models import Case
from uploads.services import upload_create, upload_store_bytes

pytestmark = pytest.mark.django_db


def _version(case: Case) -> int:
    return Case.objects.values_list("live_version", flat=True).get(pk=case.pk)


def test_every_write_the_page_shows_raises_the_version(scoped_case, customer, engineer):
    seen = [_version(scoped_case)]

    def moved() -> bool:
        seen.append(_version(scoped_case))
        return seen[-1] > seen[-2]

    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True)
    assert moved()
    services.timeline_add(actor=engineer, case=scoped_case, body="Note", internal=True)
    assert moved()
    upload = upload_create(actor=customer, case=scoped_case, filename="big.dmp", size=10)
    assert moved(), "an upload arriving shows on the page"
    stored = upload_store_bytes(actor=customer, case=scoped_case, filename="k.txt", data=b"kd> k\n")
    assert moved(), "a stored upload (and its queued job)"
    job = stored.analysis_jobs.get()
    claim = analysis_services.job_start(job_id=job.pk, task_id="t-1", worker="w")
    assert claim is not None and moved(), "a job starting"
    analysis_services.job_fail(job_id=job.pk, reason="test", task_id="t-1")
    assert moved(), "a job ending, with its finding"
    assert upload.pk


def test_the_version_answers_304_while_nothing_changed(scoped_case, customer, client):
    client.force_login(customer)
    url = f"/cases/{scoped_case.number}/version/"
    first = client.get(url)
    assert first.status_code == 200 and first.json() == {"version": _version(scoped_case)}
    assert first["ETag"] == f'"{_version(scoped_case)}"'
    unchanged = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert unchanged.status_code == 304
    for answer in (first, unchanged):  # no cache along the way may keep either
        assert set(answer["Cache-Control"].split(", ")) >= {
            "no-cache",
            "no-store",
            "must-revalidate",
            "private",
        }
    services.timeline_add(actor=customer, case=scoped_case, body="Here")
    changed = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert changed.status_code == 200 and changed.json()["version"] > int(first["ETag"].strip('"'))


def test_polling_costs_a_fixed_handful_of_queries(
    scoped_case, customer, engineer, account_manager, client, django_assert_num_queries
):
    # The session, the user, and the version with the case's organisation in one query, to which the
    # visibility rule applies (staff without an authenticator: the session remembers it from the
    # sign-in); an account manager's organisations are one query more. With REDIS_URL the session is
    # read from the shared cache (cached_db), one query fewer.

    expected = 2 if settings.SESSION_ENGINE.endswith("cached_db") else 3
    for person, queries in ((customer, expected), (engineer, expected), (account_manager, expected + 1)):
        client.force_login(person)
        url = f"/cases/{scoped_case.number}/version/"
        etag = client.get(url)["ETag"]
        with django_assert_num_queries(queries):
            assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_version_is_refused_to_who_may_not_see_the_case(scoped_case, other_customer, client):
    url = f"/cases/{scoped_case.number}/version/"
    assert client.get(url).status_code == 302  # to sign in
    client.force_login(other_customer)
    assert client.get(url).status_code == 404


def test_a_live_refresh_leaves_flash_messages_for_the_next_page(scoped_case, customer, client):
    client.force_login(customer)
    client.post(f"/cases/{scoped_case.number}/scope/answer/", {"accepted": "1"})
    url = f"/cases/{scoped_case.number}/"
    refresh = client.get(url, HTTP_X_LIVE_REFRESH="1").content.decode()
    assert "your answer to the scope is recorded" not in refresh
    assert "your answer to the scope is recorded" in client.get(url).content.decode()
