"""Redis down is not the portal down (issue 14): the cache is the broker's Redis, and every page still
answers from the database while it is unreachable (config/cache.py)."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from communications.selectors import notifications_unread_count
from tests.pipeline.realworker import free_port

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.ResilientRedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"


def test_cache_calls_fail_soft(redis_down):
    assert cache.get("k", "fallback") == "fallback"
    assert cache.get_many(["a", "b"]) == {}
    cache.set("k", 1)
    cache.delete("k")
    assert cache.add("k", 1) is False


def test_pages_answer_from_the_database_while_redis_is_down(redis_down, client, customer, engineer, case):
    client.force_login(engineer)
    for url in ("/cases/", f"/cases/{case.number}/", "/accounts/tokens/", "/review/"):
        assert client.get(url).status_code in (200, 403), url
    customer_client = client.__class__()
    customer_client.force_login(customer)
    assert customer_client.get(f"/cases/{case.number}/").status_code == 200
    answer = customer_client.post(f"/cases/{case.number}/message/", {"body": "Redis is down, still here"})
    assert answer.status_code == 302
    assert case.timeline.filter(body="Redis is down, still here").exists()
    assert notifications_unread_count(user=engineer) == 0  # counted from the database, not the cache
