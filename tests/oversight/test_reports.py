"""Reports: figures from the database, percentiles like PostgreSQL's percentile_cont on every backend,
an empty range shows an empty state, and the query count does not grow with the number of cases."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analysis.models import Crash, CrashDriver
from cases.models import AuditEvent, Case, CaseSummary
from config import caching
from oversight import reports
from oversight.services import sla_sweep
from uploads.models import Upload

pytestmark = pytest.mark.django_db

SEVERITIES = ("critical", "high", "medium", "low")


def seed_cases(organisation, owners, n: int, *, start: int = 0) -> list[Case]:
    """``n`` cases written in bulk: a third still open, the rest closed with a summary."""
    now = timezone.now()
    cases = Case.objects.bulk_create(
        Case(
            number=f"CAS-{(start + i) % 100000:05d}-B{start + i:05d}"[:20],
            title=f"Bulk case {start + i}",
            organisation=organisation,
            owner=owners[i % len(owners)],
            severity=SEVERITIES[i % 4],
            state="closed" if i % 3 else "investigating",
        )
        for i in range(n)
    )
    # opened_at is auto_now_add: spread the figures with an update per distinct offset, in bulk.
    for case_ in cases:
        i = int(case_.title.rsplit(" ", 1)[1]) - start
        case_.opened_at = now - timedelta(days=i % 40, hours=3)
        case_.first_response_at = case_.opened_at + timedelta(minutes=10 + (i * 7) % 300)
        case_.scoped_at = case_.opened_at + timedelta(hours=1 + i % 20)
        case_.closed_at = case_.opened_at + timedelta(days=1 + i % 9) if i % 3 else None
    Case.objects.bulk_update(
        cases, ["opened_at", "first_response_at", "scoped_at", "closed_at"], batch_size=1000
    )
    CaseSummary.objects.bulk_create(
        CaseSummary(
            case=c,
            version=1,
            problem_description="p",
            analysis="a",
            resolution="r",
            resolution_type=("resolved", "by_design", "third_party")[c.pk % 3],
        )
        for c in cases
        if c.state == "closed"
    )
    return cases


def _report(period=None):
    return reports.report_build(period=period or reports.Period.default())


def test_percentiles_match_percentile_cont(organisation, engineer, other_engineer):
    cases = seed_cases(organisation, [engineer, other_engineer], 41)
    report = _report()
    by_engineer = dict(report.by_engineer)
    for owner in (engineer, other_engineer):
        durations = sorted(c.first_response_at - c.opened_at for c in cases if c.owner_id == owner.pk)
        seconds = [d.total_seconds() for d in durations]
        expected_median = statistics.median(seconds)
        # percentile_cont's 90th: linear interpolation at 0.9 * (n - 1).
        position = 0.9 * (len(seconds) - 1)
        low = int(position)
        expected_p90 = seconds[low] + (seconds[min(low + 1, len(seconds) - 1)] - seconds[low]) * (
            position - low
        )
        median, p90 = by_engineer[owner.username][0:2]
        assert median.total_seconds() == pytest.approx(expected_median, abs=1)
        assert p90.total_seconds() == pytest.approx(expected_p90, abs=1)


def test_figures_of_a_small_set(organisation, engineer, case):
    seed_cases(organisation, [engineer], 12)
    AuditEvent.objects.create(case=case, action="reopen", from_state="closed", to_state="investigating")
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now())
    upload = Upload.objects.create(case=case, filename="Mini031023-01.dmp", size=1)
    crash = Crash.objects.create(upload=upload, case=case, index=0, code="0x000000be", raw={})
    CrashDriver.objects.create(crash=crash, case=case, name="sfuemisospace.sys")
    report = _report()
    assert report.opened_total == 13
    assert sum(o for _w, o, _c in report.weekly) == 13
    assert report.backlog_total == Case.objects.exclude(state="closed").count()
    assert report.reopen.reopened == 1
    assert report.top_codes == [("0x000000be", 1, 1)]
    assert report.top_drivers == [("sfuemisospace.sys", 1, 1)]
    assert sum(n for _label, n in report.resolutions) == report.resolutions_total > 0


def test_sla_kept_and_breached_come_from_the_sweep(organisation, engineer):
    seed_cases(organisation, [engineer], 9)
    sla_sweep()
    report = _report()
    assert report.sla_total > 0


def test_empty_range_shows_the_empty_state(client, manager, organisation, engineer):
    seed_cases(organisation, [engineer], 5)
    Case.objects.update(state="closed")
    client.force_login(manager)
    response = client.get("/reports/?since=2001-01-01&until=2001-01-31")
    assert response.status_code == 200
    assert "report-empty" in response.content.decode()
    # A period that ends before it starts is refused with a message, not an error.
    response = client.get("/reports/?since=2026-02-01&until=2026-01-01")
    assert response.status_code == 200 and "ends before it starts" in response.content.decode()


def test_reports_page_renders_charts_with_their_tables(client, manager, organisation, engineer):
    seed_cases(organisation, [engineer], 20)
    sla_sweep()  # kept and breached clocks for the fourth chart
    client.force_login(manager)
    page = client.get(f"/reports/?organisation={organisation.slug}").content.decode()
    assert page.count('<svg class="chart"') >= 4
    assert 'id="weekly"' in page and "Week of" in page and "Median and 90th percentile" in page
    assert "<script" not in page.split("</head>")[1]  # no inline script: the CSP holds


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get("/reports/").status_code == 200
    return len(context.captured_queries)


@pytest.mark.slow  # 5,000 cases written: about 5 s of CPU
def test_report_query_count_is_constant_from_50_to_5000_cases(
    client, manager, organisation, engineer, other_engineer, monkeypatch
):

    owners = [engineer, other_engineer]
    seed_cases(organisation, owners, 50)
    client.force_login(manager)
    _queries(client)  # warm: with a shared cache the unread count is read from it afterwards
    monkeypatch.setattr(caching, "release_digest", lambda: "computed")  # the report itself computed again
    small = _queries(client)
    seed_cases(organisation, owners, 4950, start=50)
    assert Case.objects.count() == 5000
    monkeypatch.setattr(caching, "release_digest", lambda: "recomputed")  # not the minute's cached copy
    large = _queries(client)
    assert small == large
    assert large <= 30
    # Within the minute, other managers read the same figures without recomputing them.
    assert _queries(client) <= 6


def test_the_report_says_how_fresh_it_is_and_is_recomputed_after_its_minute(
    client, manager, organisation, engineer, monkeypatch
):

    def figures() -> str:
        page = client.get("/reports/").content.decode()
        return page[page.index("report-freshness") :]

    seed_cases(organisation, [engineer], 3)
    client.force_login(manager)
    before = figures()
    assert "they are recomputed every 60 seconds" in before
    seed_cases(organisation, [engineer], 4, start=3)
    assert figures() == before  # the minute's copy
    # The minute is over: its copy is gone (the cache's own timeout, here taken away by hand).
    monkeypatch.setattr(cache, "get", lambda key, default=None: default)
    assert figures() != before


def test_the_filters_show_each_reader_their_own_parameters(client, manager, organisation, other_organisation):
    """The filter form is kept as long as the figures, under the parameters it shows: another choice, date
    or a wrong date gets a form of its own."""
    client.force_login(manager)
    plain = client.get("/reports/").content.decode()
    assert organisation.name in plain and other_organisation.name in plain
    chosen = client.get(f"/reports/?organisation={other_organisation.slug}&since=2026-01-05").content.decode()
    assert f'<option value="{other_organisation.slug}" selected>' in chosen
    assert 'value="2026-01-05"' in chosen and 'value="2026-01-05"' not in plain
    with CaptureQueriesContext(connection) as queries:
        again = client.get(f"/reports/?organisation={other_organisation.slug}&since=2026-01-05")
    assert again.content.decode() == chosen.replace(_token(chosen), _token(again.content.decode()))
    assert len(queries) <= 4  # the user, the filter's choices (validation), no figures
    wrong = client.get("/reports/?since=2026-13-40").content.decode()
    assert 'value="2026-13-40"' in wrong


def _token(page: str) -> str:
    marker = 'name="csrfmiddlewaretoken" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]
