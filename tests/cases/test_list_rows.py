"""The case list's rows come from the cache, per case version: a warm list renders no row and reads no
service-level clocks, a changed case shows its change at once, and what one role sees never reaches
another."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.live import case_touch
from cases.models import Case
from cases.search_index import case_search_sweep
from config import pagination
from tests.factories import CaseFactory

pytestmark = pytest.mark.django_db


def _list(client, url="/cases/?view=all"):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in queries.captured_queries]


def _rows(page: str) -> str:
    return page[page.index("<tbody>") : page.index("</tbody>")]


def test_a_warm_list_reads_no_clocks_and_shows_the_same_rows(client, engineer, organisation):
    for _ in range(30):
        CaseFactory(organisation=organisation, owner=engineer)
    client.force_login(engineer)
    cold, cold_queries = _list(client)
    warm, warm_queries = _list(client)
    assert any("oversight_caseclock" in sql for sql in cold_queries)
    assert not any("oversight_caseclock" in sql for sql in warm_queries)
    assert len(warm_queries) <= len(cold_queries) - 1
    assert _rows(warm) == _rows(cold) and _rows(warm).count("<tr>") == 25


def test_a_changed_case_shows_its_change_at_once(client, engineer, organisation):
    case = CaseFactory(organisation=organisation, owner=engineer, title="Before the change")
    client.force_login(engineer)
    assert "Before the change" in _list(client)[0]
    Case.objects.filter(pk=case.pk).update(title="After the change")
    case_touch(case_id=case.pk)  # what every write that changes a case does
    page = _list(client)[0]
    assert "After the change" in page and "Before the change" not in page


def test_rows_cached_for_staff_never_reach_a_customer(client, engineer, customer, case):
    client.force_login(engineer)
    staff_page = _list(client)[0]
    assert 'class="c-sla"' in staff_page
    client.force_login(customer)
    customer_page = _list(client, "/cases/")[0]
    assert case.number in customer_page and 'class="c-sla"' not in customer_page


def test_a_search_shows_its_matching_words_whatever_the_cache_holds(client, engineer, organisation):
    CaseFactory(organisation=organisation, owner=engineer, title="Bug check after the update",
                description="the crash names SfUemIsoSpace.sys")  # fmt: skip
    client.force_login(engineer)
    _list(client)  # rows of the plain list are cached
    case_search_sweep()
    page = _list(client, "/cases/?view=all&q=SfUemIsoSpace")[0]
    assert "search-excerpt" in page


def test_readers_of_the_same_list_share_its_count(client, engineer, manager, organisation, monkeypatch):
    monkeypatch.setattr(pagination, "SHARE_FROM", 20)  # as 5,000 cases would, with 30
    for _ in range(30):
        CaseFactory(organisation=organisation)
    client.force_login(engineer)
    first, first_queries = _list(client)
    client.force_login(manager)  # sees the same cases with the same filters
    second, second_queries = _list(client)
    assert any("COUNT(*)" in sql and 'FROM "cases_case"' in sql for sql in first_queries)
    assert not any('FROM "cases_case"' in sql and "COUNT(*)" in sql for sql in second_queries)
    assert "30 cases" in first and "30 cases" in second
    narrowed, narrowed_queries = _list(client, "/cases/?view=all&severity=critical")
    assert any(
        "COUNT(*)" in sql and "cases_case" in sql for sql in narrowed_queries
    )  # other filters: a count of their own


def test_a_small_count_is_always_exact(client, engineer, organisation):
    for _ in range(3):
        CaseFactory(organisation=organisation)
    client.force_login(engineer)
    assert "3 cases" in _list(client)[0]
    CaseFactory(organisation=organisation)
    assert "4 cases" in _list(client)[0]


def test_the_api_shares_the_count_too(login_api, engineer, organisation, monkeypatch):
    monkeypatch.setattr(pagination, "SHARE_FROM", 20)
    for _ in range(30):
        CaseFactory(organisation=organisation)
    client = login_api(engineer)
    assert client.get("/api/cases/").json()["count"] == 30
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/api/cases/?page=2").json()
    assert body["count"] == 30 and len(body["results"]) == 5
    assert not any("COUNT(*)" in query["sql"] for query in queries.captured_queries)


def test_a_warm_list_fetches_no_case_only_the_rows_versions(client, engineer, organisation):
    """The whole table is cached under its rows' ids and versions: a warm list reads those in one narrow
    query, and neither fetches the cases nor renders them."""
    for _ in range(30):
        CaseFactory(organisation=organisation, owner=engineer)
    client.force_login(engineer)
    cold, _ = _list(client)
    warm, warm_queries = _list(client)
    assert _rows(warm) == _rows(cold) and _rows(warm).count("<tr>") == 25
    case_reads = [sql for sql in warm_queries if 'FROM "cases_case"' in sql and "COUNT(*)" not in sql]
    assert len(case_reads) == 1
    assert '"live_version"' in case_reads[0]
    assert '"cases_case"."title"' not in case_reads[0] and "JOIN" not in case_reads[0]


def test_a_new_case_on_another_page_changes_the_count_at_once(client, engineer, organisation):
    for _ in range(30):
        CaseFactory(organisation=organisation)
    client.force_login(engineer)
    assert "30 cases" in _list(client, "/cases/?view=all&page=2")[0]
    CaseFactory(organisation=organisation)  # the newest: page 1 changes, and page 2's count
    page_two = _list(client, "/cases/?view=all&page=2")[0]
    assert "31 cases" in page_two


def test_each_filter_and_page_has_a_table_of_its_own(client, engineer, organisation):
    CaseFactory(organisation=organisation, severity="critical", title="The critical one")
    CaseFactory(organisation=organisation, severity="low", title="The low one")
    client.force_login(engineer)
    assert "The low one" in _list(client)[0]
    critical = _list(client, "/cases/?view=all&severity=critical")[0]
    assert "The critical one" in critical and "The low one" not in critical


def test_tables_of_two_customers_never_mix(client, customer, other_customer, organisation):
    """Two customers share a role, never a table: their rows differ, so their keys do; and a customer's
    filter names no organisation, not even their own."""
    client.force_login(other_customer)
    assert "No cases match." in _list(client, "/cases/")[0]
    case = CaseFactory(organisation=organisation)
    client.force_login(customer)
    own = _list(client, "/cases/")[0]
    assert case.number in own and 'name="organisation"' not in own
    client.force_login(other_customer)
    assert case.number not in _list(client, "/cases/")[0]
