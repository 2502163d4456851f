"""``/metrics``: Prometheus text for a scraper with the token or from an allowed address, 403 otherwise;
the figures it must carry (requests per view, queries, uploads, queue, jobs, service levels)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from analysis.models import AnalysisJob
from oversight.models import CaseClock
from tests.uploads.conftest import sha256_b64

TOKEN = "scrape-token-0123456789"


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_ALLOWED_ADDRESSES = []
    return TOKEN


def _scrape(client, token: str | None = TOKEN, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return client.get("/metrics", **headers, **extra)


def _samples(response) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("header", "why"),
    [
        (None, "no token"),
        ("Bearer wrong-token", "wrong token"),
        (f"Token {TOKEN}", "another scheme"),
        (f"Basic {TOKEN}", "basic"),
        ("Bearer ", "empty"),
    ],
)
def test_metrics_without_the_token_is_403(client, metrics_token, header, why):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 403, why
    assert b"portal_" not in response.content


@pytest.mark.django_db
def test_metrics_with_nothing_configured_answers_nobody(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_ADDRESSES = []
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 403


@pytest.mark.django_db
def test_an_allowed_address_scrapes_without_a_token_and_a_forwarded_header_does_not_count(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOWED_ADDRESSES = ["10.1.0.0/16", "not-an-address"]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1").status_code == 403
    # X-Forwarded-For is the client's to write: never trusted here.
    assert client.get("/metrics", REMOTE_ADDR="10.2.0.1", HTTP_X_FORWARDED_FOR="10.1.2.3").status_code == 403


@pytest.mark.django_db
def test_a_signed_in_manager_without_the_token_is_still_403(client, manager, metrics_token):
    client.force_login(manager)
    assert client.get("/metrics").status_code == 403


@pytest.mark.django_db
def test_request_rates_latencies_and_queries_per_view(client, customer, case, metrics_token):
    client.force_login(customer)
    assert client.get("/cases/").status_code == 200
    samples = _samples(_scrape(client))
    requests = _value(
        samples, "django_http_requests_total_by_view_transport_method_total",
        view="cases:list", transport="http", method="GET",
    )  # fmt: skip
    assert requests and requests >= 1
    latency = _value(
        samples, "django_http_requests_latency_seconds_by_view_method_count", view="cases:list", method="GET"
    )
    assert latency and latency >= 1
    queries = _value(samples, "portal_db_queries_per_request_count", view="cases:list")
    assert queries and queries >= 1
    assert (_value(samples, "portal_db_queries_per_request_sum", view="cases:list") or 0) >= 1
    # django-prometheus's database wrapper counts every query
    assert any(name == "django_db_execute_total" for name, _labels in samples)


@pytest.mark.django_db
def test_upload_bytes_and_jobs_per_kind_and_outcome(
    client, customer, case, metrics_token, tus_create, tus_patch, django_capture_on_commit_callbacks
):
    before = _value(_samples(_scrape(client)), "portal_upload_bytes_received_total", storage="disk") or 0
    data = b"not a dump, a plain text log\n" * 10
    location = tus_create(customer, case, len(data))["Location"]
    with django_capture_on_commit_callbacks():
        assert tus_patch(customer, location, 0, data, checksum=sha256_b64(data)).status_code == 204
    job = AnalysisJob.objects.get()
    now = timezone.now()
    AnalysisJob.objects.filter(pk=job.pk).update(
        state="done", detected_kind="windbg_text", started_at=now - timedelta(seconds=3), finished_at=now
    )
    AnalysisJob.objects.create(upload=job.upload, state="queued", queued_at=now)

    samples = _samples(_scrape(client))
    assert _value(samples, "portal_upload_bytes_received_total", storage="disk") - before == len(data)
    assert _value(samples, "portal_upload_chunk_seconds_count", storage="disk") >= 1
    assert _value(samples, "portal_analysis_jobs", state="queued") == 1
    assert _value(samples, "portal_analysis_jobs", state="running") == 0
    bucket = dict(kind="windbg_text", outcome="done")
    assert _value(samples, "portal_analysis_job_duration_seconds_count", **bucket) == 1
    assert _value(samples, "portal_analysis_job_duration_seconds_bucket", **bucket, le="2.5") == 0
    assert _value(samples, "portal_analysis_job_duration_seconds_bucket", **bucket, le="5.0") == 1
    assert _value(samples, "portal_analysis_job_duration_seconds_sum", **bucket) == pytest.approx(3, abs=0.01)
    assert _value(samples, "portal_uploads", state="stored") == 1
    assert _value(samples, "portal_queue_messages", queue="analysis") is not None
    # The job's message is an outbox row not yet published (the commit's callbacks were held back).
    assert _value(samples, "portal_outbox_messages", state="pending") >= 1
    assert _value(samples, "portal_outbox_oldest_pending_seconds") >= 0


@pytest.mark.django_db
def test_service_level_breaches_are_counted(client, case, metrics_token):

    now = timezone.now()
    CaseClock.objects.create(
        case=case, clock="first_response", breached=True, target_minutes=60, started_at=now, evaluated_at=now
    )
    samples = _samples(_scrape(client))
    assert _value(samples, "portal_service_level_breached_clocks", clock="first_response") == 1


@pytest.mark.django_db
def test_case_page_fragments_count_cache_hits_and_misses(client, engineer, case, metrics_token, settings):
    # A cache of this process: the suite's parallel workers clear the shared Redis one between tests.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fragments"}
    }
    client.force_login(engineer)

    def counts() -> tuple[float, float]:
        samples = _samples(_scrape(client))
        return tuple(  # type: ignore[return-value]
            _value(samples, "portal_case_fragments_total", result=result) or 0 for result in ("hit", "miss")
        )

    hits_before, misses_before = counts()
    client.get(f"/cases/{case.number}/")
    hits_first, misses_first = counts()
    client.get(f"/cases/{case.number}/")
    hits_second, misses_second = counts()
    assert misses_first > misses_before  # the first view renders the page's fragments
    assert hits_second > hits_first and misses_second == misses_first  # the second reads them
