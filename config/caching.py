"""What the configured cache can be trusted with."""

from __future__ import annotations

from django.conf import settings


def cache_is_shared() -> bool:
    """Whether every process (web workers, Celery workers) sees the same cache: a local-memory cache is
    per process, so a value one process forgets stays stale in the others."""
    backend = settings.CACHES["default"]["BACKEND"]
    return not backend.endswith(("LocMemCache", "DummyCache"))
