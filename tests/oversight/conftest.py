"""Frozen time for the clocks: a tiny fixture instead of a time-travel package."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.utils import timezone


class FrozenClock:
    """``django.utils.timezone.now`` answers ``self.now``; auto_now fields and services read it too."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, value: datetime) -> None:
        self.now = value

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def frozen(monkeypatch):
    # A Monday 08:00 UTC: business hours of the default calendar start at 09:00.
    clock = FrozenClock(datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    monkeypatch.setattr(timezone, "now", clock)
    return clock


def ensure_service_level_defaults() -> None:
    """The data migration's defaults, put back when a transactional test (browser, worker) flushed them."""

    seed = importlib.import_module("oversight.migrations.0002_default_service_levels").seed
    seed(apps, None)


@pytest.fixture(autouse=True)
def _service_level_defaults(request):
    if "db" in request.fixturenames or "transactional_db" in request.fixturenames:
        ensure_service_level_defaults()
