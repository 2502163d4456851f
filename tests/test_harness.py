"""The test harness itself: a Redis database per pytest-xdist worker, the samples folder found one way."""

from __future__ import annotations

import pytest

from tests import samples as samples_module
from tests.xdist_redis import redis_url_for_worker


def test_each_xdist_worker_has_a_redis_database_of_its_own() -> None:
    assert redis_url_for_worker("redis://127.0.0.1:6379/6", "gw0") == "redis://127.0.0.1:6379/6"
    assert redis_url_for_worker("redis://127.0.0.1:6379/6", "gw1") == "redis://127.0.0.1:6379/7"
    assert redis_url_for_worker("redis://:secret@redis:6379", "gw2") == "redis://:secret@redis:6379/2"
    with pytest.raises(RuntimeError, match="database 16"):
        redis_url_for_worker("redis://127.0.0.1:6379/15", "gw1")


def test_an_absent_sample_skips_with_the_reason(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(samples_module, "SAMPLES_DIR", tmp_path / "nowhere")
    with pytest.raises(pytest.skip.Exception, match="PORTAL_SAMPLES_DIR"):
        samples_module.sample_path("evtx/python-evtx__system.evtx")
    [param] = samples_module.sample_params("evtx")
    assert {mark.name for mark in param.marks} == {"samples", "skip"}
