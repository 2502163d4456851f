"""A Redis database per pytest-xdist worker (tests/conftest.py calls ``redis_per_worker`` when it loads).

Each test clears the cache (tests/conftest.py), and Redis clears a whole database: with one database for
two workers, one worker's clear emptied the other's cache in the middle of a test (query-count tests passed
or failed by timing). Worker ``gwN`` uses the database ``REDIS_URL`` names plus N, for its cache and broker
and, through the same variable, for the Celery workers and servers its tests start. The broker database of
the real-worker tests (``REDIS_TEST_DB``, flushed when such a test starts; tests/pipeline/realworker.py)
moves up by N as well.

pytest-django has loaded the settings by then (before any conftest.py), so the settings that hold the URL
are updated here, and the cache handler is told (as override_settings tells it).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.test.signals import setting_changed

from config.celery import app

REDIS_DATABASES = 16  # Redis's default number of databases


def redis_url_for_worker(url: str, worker: str) -> str:
    """``redis://host:6379/6`` for ``gw1`` -> ``redis://host:6379/7``."""
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0) + int(worker.removeprefix("gw"))
    if number >= REDIS_DATABASES:
        raise RuntimeError(
            f"REDIS_URL {url}: worker {worker} would need Redis database {number}; use a lower one"
        )
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


def redis_per_worker() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return
    os.environ["REDIS_TEST_DB"] = str(
        int(os.environ.get("REDIS_TEST_DB", "13")) + int(worker.removeprefix("gw"))
    )
    if not settings.REDIS_URL:
        return
    url = redis_url_for_worker(settings.REDIS_URL, worker)
    os.environ["REDIS_URL"] = url  # the servers and Celery workers that tests start
    settings.REDIS_URL = settings.CELERY_BROKER_URL = url
    settings.CACHES = {**settings.CACHES, "default": {**settings.CACHES["default"], "LOCATION": url}}
    setting_changed.send(sender=type(settings), setting="CACHES", value=settings.CACHES, enter=True)
    app.conf.broker_url = url
