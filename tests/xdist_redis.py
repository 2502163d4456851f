"""A Redis database per pytest-xdist worker, chosen before Django reads its settings.

Loaded as an early plugin (``-p tests.xdist_redis`` in pytest's addopts): pytest-django loads the settings
before any conftest.py, so a conftest would be too late. Each test clears the cache (tests/conftest.py),
and Redis clears a whole database: with one database for two workers, one worker's clear emptied the
other's cache in the middle of a test (query-count tests passed or failed by timing). Worker ``gwN`` uses
the database ``REDIS_URL`` names plus N, through the same variable, so the Celery workers and servers
that tests start inherit it. The broker database of the real-worker tests (``REDIS_TEST_DB``, flushed
when such a test starts; tests/pipeline/realworker.py) moves up by N as well.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16  # Redis's default number of databases


def redis_url_for_worker(url: str, worker: str) -> str:
    """``redis://host:6379/6`` for ``gw1`` -> ``redis://host:6379/7``; the controller (no worker) keeps it."""
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or 0)
    number = base + int(worker.removeprefix("gw"))
    if number >= REDIS_DATABASES:
        raise RuntimeError(
            f"REDIS_URL {url}: worker {worker} would need Redis database {number}; use a lower one"
        )
    return urlunsplit((parts.scheme, parts.netloc, f"/{number}", parts.query, parts.fragment))


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    if os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = redis_url_for_worker(os.environ["REDIS_URL"], _worker)
    _test_db = int(os.environ.get("REDIS_TEST_DB", "13")) + int(_worker.removeprefix("gw"))
    os.environ["REDIS_TEST_DB"] = str(_test_db)
