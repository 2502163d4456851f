"""Prometheus metrics (prometheus-client; the database metrics come from django-prometheus's backend).

Two kinds, so every figure is right with any number of processes and hosts:

- per process (this module's counters and histograms, and django-prometheus's): upload bytes, case page
  fragment cache hits, queries per request. Under gunicorn with several workers set
  ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) so a scrape sums the workers.
- of the whole site, read at scrape time from PostgreSQL/Redis by :class:`SiteCollector`: job queue
  depth, job durations and outcomes per kind (from the job rows, whichever worker ran them), the outbox
  backlog, service-level breaches. Any web host answers the same.

``/metrics`` answers only ``Authorization: Bearer $METRICS_TOKEN`` or an address in
``METRICS_ALLOWED_ADDRESSES``; anything else gets 403.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import logging
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Min, Q, Sum
from django.http import HttpRequest, HttpResponse
from django.urls import resolve
from django.urls.exceptions import Resolver404
from django.utils import timezone
from django.views.decorators.http import require_GET
from django_prometheus.conf import PROMETHEUS_LATENCY_BUCKETS  # type: ignore[import-untyped]
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from analysis.models import AnalysisJob
from config.celery import app
from outbox.models import OutboxMessage
from oversight.models import CaseClock, ClockNotification
from uploads.models import Upload

logger = logging.getLogger(__name__)

UPLOAD_BYTES = Counter(
    "portal_upload_bytes_received",
    "Bytes of tus chunks acknowledged, by where they were stored (disk spool or bucket).",
    ["storage"],
)
UPLOAD_CHUNKS = Counter("portal_upload_chunks_received", "tus chunks acknowledged.", ["storage"])
UPLOAD_CHUNK_SECONDS = Histogram(
    "portal_upload_chunk_seconds",
    "Time to receive, check and store one tus chunk.",
    ["storage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
BUCKET_READ = Counter(
    "portal_bucket_bytes_read",
    "Bytes read back from object storage: ranged reads (analysis, type detection) or streamed.",
    ["how"],
)
CASE_FRAGMENTS = Counter(
    "portal_case_fragments",
    "Case page sections served from the cache (hit) or rendered (miss).",
    ["result"],
)
QUERIES_PER_REQUEST = Histogram(
    "portal_db_queries_per_request",
    "Database queries run by one request, by view.",
    ["view"],
    buckets=(1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 100, 200),
)

# Seconds; a parse of a large dump can take minutes.
JOB_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900)


def upload_bytes_received(count: int, *, storage: str, seconds: float | None = None) -> None:
    UPLOAD_BYTES.labels(storage=storage).inc(count)
    UPLOAD_CHUNKS.labels(storage=storage).inc()
    if seconds is not None:
        UPLOAD_CHUNK_SECONDS.labels(storage=storage).observe(seconds)


def case_fragment(hit: bool) -> None:
    CASE_FRAGMENTS.labels(result="hit" if hit else "miss").inc()


# -- the whole site, read at scrape time ----------------------------------------------------------------


class SiteCollector(Collector):
    """Figures of the whole deployment from the database and the broker, computed per scrape."""

    def collect(self) -> Iterator[Any]:
        for produce in (self._jobs, self._queue, self._outbox, self._service_levels, self._uploads):
            try:
                yield from produce()
            except Exception:  # one source down must not cost the others (nor the scrape)
                logger.exception("metrics: %s failed", produce.__name__)

    def _jobs(self) -> Iterator[Any]:
        states = GaugeMetricFamily(
            "portal_analysis_jobs", "Analysis jobs now queued or running.", labels=["state"]
        )
        counts = dict(
            AnalysisJob.objects.filter(state__in=AnalysisJob.ACTIVE_STATES)
            .values_list("state")
            .annotate(n=Count("pk"))
            .values_list("state", "n")
        )
        for state in AnalysisJob.ACTIVE_STATES:
            states.add_metric([state], counts.get(state, 0))
        yield states

        duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
        buckets = {
            f"le{i}": Count("pk", filter=Q(run__lte=timedelta(seconds=bound)))
            for i, bound in enumerate(JOB_BUCKETS)
        }
        rows = (
            AnalysisJob.objects.filter(
                state__in=[AnalysisJob.State.DONE, AnalysisJob.State.FAILED],
                started_at__isnull=False,
                finished_at__isnull=False,
            )
            .annotate(run=duration)
            .values("detected_kind", "state")
            .annotate(total=Count("pk"), seconds=Sum("run"), **buckets)
        )
        family = HistogramMetricFamily(
            "portal_analysis_job_duration_seconds",
            "Run time of finished analysis jobs (claim to outcome), by detected kind and outcome.",
            labels=["kind", "outcome"],
        )
        for row in rows:
            cumulative = [(floatToGoString(bound), row[f"le{i}"]) for i, bound in enumerate(JOB_BUCKETS)]
            cumulative.append(("+Inf", row["total"]))
            seconds = row["seconds"]
            total_seconds = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds or 0)
            family.add_metric([row["detected_kind"] or "unknown", row["state"]], cumulative, total_seconds)
        yield family

    def _queue(self) -> Iterator[Any]:
        """Messages waiting in the broker per Celery queue (Redis lists; the embedded broker's files)."""
        family = GaugeMetricFamily(
            "portal_queue_messages", "Task messages waiting in the broker, per queue.", labels=["queue"]
        )
        for queue, depth in queue_depths().items():
            family.add_metric([queue], depth)
        yield family

    def _outbox(self) -> Iterator[Any]:
        backlog = GaugeMetricFamily(
            "portal_outbox_messages",
            "Outbox messages by state (pending = not yet published).",
            labels=["state"],
        )
        for state, count in (
            OutboxMessage.objects.values_list("state").annotate(n=Count("pk")).values_list("state", "n")
        ):
            backlog.add_metric([state], count)
        yield backlog
        oldest = OutboxMessage.objects.filter(state=OutboxMessage.State.PENDING).aggregate(
            oldest=Min("created_at")
        )["oldest"]
        yield GaugeMetricFamily(
            "portal_outbox_oldest_pending_seconds",
            "Age of the oldest unpublished outbox message (0 when none).",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )

    def _service_levels(self) -> Iterator[Any]:
        breached = GaugeMetricFamily(
            "portal_service_level_breached_clocks",
            "Case clocks past their target now, by clock.",
            labels=["clock"],
        )
        rows = CaseClock.objects.filter(breached=True).values_list("clock").annotate(n=Count("pk"))
        for clock, count in rows.values_list("clock", "n"):
            breached.add_metric([clock], count)
        yield breached
        notices = CounterMetricFamily(
            "portal_service_level_notifications",
            "Service-level warnings and breaches recorded (each e-mailed once), by kind.",
            labels=["kind"],
        )
        notice_rows = ClockNotification.objects.values_list("kind").annotate(n=Count("pk"))
        for kind, count in notice_rows.values_list("kind", "n"):
            notices.add_metric([kind], count)
        yield notices

    def _uploads(self) -> Iterator[Any]:
        family = GaugeMetricFamily(
            "portal_uploads", "Uploads by state (receiving = in progress).", labels=["state"]
        )
        stored = GaugeMetricFamily(
            "portal_uploads_bytes", "Bytes of uploads by state (declared size).", labels=["state"]
        )
        rows = Upload.objects.values_list("state").annotate(n=Count("pk"), b=Sum("size"))
        for state, count, size in rows.values_list("state", "n", "b"):
            family.add_metric([state], count)
            stored.add_metric([state], size or 0)
        yield family
        yield stored


def queue_depths() -> dict[str, int]:
    queues = ["analysis", "default"]
    broker = str(app.conf.broker_url or "")
    if broker.startswith(("redis://", "rediss://")):
        with app.connection_for_read() as conn:
            # A Redis broker's channel has a client; kombu's stubs declare only the common channel.
            client = conn.default_channel.client  # type: ignore[attr-defined]
            return {queue: int(client.llen(queue)) for queue in queues}
    folder = (app.conf.broker_transport_options or {}).get("data_folder_in")
    if folder and os.path.isdir(folder):
        # The embedded broker: one file per message, "<time>_<id>.<queue>.msg".
        names = os.listdir(folder)
        return {queue: sum(1 for name in names if name.endswith(f".{queue}.msg")) for queue in queues}
    return {}


_site_registry = CollectorRegistry(auto_describe=False)
_site_registry.register(SiteCollector())


def exposition() -> bytes:
    """This process's metrics (or every worker's, in multiprocess mode) followed by the site's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        local = generate_latest(registry)
    else:
        local = generate_latest(REGISTRY)
    return local + generate_latest(_site_registry)


# -- the endpoint ----------------------------------------------------------------------------------------


def _address_allowed(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for allowed in settings.METRICS_ALLOWED_ADDRESSES:
        try:
            if ip in ipaddress.ip_network(allowed, strict=False):
                return True
        except ValueError:
            continue
    return False


def metrics_allowed(request: HttpRequest) -> bool:
    """A scrape with the bearer token, or from an allowed address (REMOTE_ADDR: never a header a client
    can set). Nothing configured: nobody."""
    token = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        return hmac.compare_digest(header[len("Bearer ") :].strip().encode(), token.encode())
    return _address_allowed(request.META.get("REMOTE_ADDR", ""))


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics``: Prometheus text format for a scraper with the token or an allowed address."""
    if not metrics_allowed(request):
        return HttpResponse(
            "Forbidden: send Authorization: Bearer <METRICS_TOKEN>.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


# Per view, under django-prometheus's names, so dashboards written for it keep working. Its two
# middleware record a dozen series on every request (by method, by transport, body sizes, charsets...):
# a tenth of the smallest signed-in request's work. These are the ones read per view, in one middleware.
REQUESTS_BY_VIEW = Counter(
    "django_http_requests_total_by_view_transport_method",
    "Count of requests by view, transport, method.",
    ["view", "transport", "method"],
)
LATENCY_BY_VIEW = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Histogram of request processing time (the whole middleware stack) labelled by view.",
    ["view", "method"],
    buckets=PROMETHEUS_LATENCY_BUCKETS,
)
RESPONSES_BY_VIEW = Counter(
    "django_http_responses_total_by_status_view_method",
    "Count of responses by status, view, method.",
    ["status", "view", "method"],
)
EXCEPTIONS_BY_TYPE = Counter(
    "django_http_exceptions_total_by_type", "Count of exceptions by object type.", ["type"]
)
EXCEPTIONS_BY_VIEW = Counter("django_http_exceptions_total_by_view", "Count of exceptions by view.", ["view"])
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "CONNECT", "PATCH"})


@functools.cache
def _series(metric: Any, *labels: str) -> Any:
    """The metric's series for these label values (in the order the metric names them), looked up once:
    prometheus-client checks and locks on every ``labels()`` call. Views, methods and statuses are few."""
    return metric.labels(*labels)


class RequestMetricsMiddleware:
    """Requests, answers, latency and database queries of each request, by view (latency from the top of
    the middleware stack: a refused request is counted too). Queries are counted with a database execute
    wrapper: a view whose count grows with the data shows in ``portal_db_queries_per_request``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        count = [0]

        def counter(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            count[0] += 1
            return execute(sql, params, many, context)

        with connection.execute_wrapper(counter):
            response = self.get_response(request)
        view = _view_name(request)
        method = request.method if request.method in _METHODS else "<invalid method>"
        if getattr(request, "resolver_match", None) is not None:
            transport = "https" if request.is_secure() else "http"
            _series(REQUESTS_BY_VIEW, view, transport, method).inc()
        _series(RESPONSES_BY_VIEW, str(response.status_code), view, method).inc()
        _series(LATENCY_BY_VIEW, view, method).observe(time.perf_counter() - started)
        _series(QUERIES_PER_REQUEST, view).observe(count[0])
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> None:
        EXCEPTIONS_BY_TYPE.labels(type=type(exception).__name__).inc()
        EXCEPTIONS_BY_VIEW.labels(view=_view_name(request)).inc()


def _view_name(request: HttpRequest) -> str:
    match = getattr(request, "resolver_match", None)
    if match is None:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return "<unresolved>"
    return match.view_name or "<unnamed>"
