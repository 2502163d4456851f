"""Personas (STYLE.md rule 9): the case's customer, another organisation's customer, and staff."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.utils import translation
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from accounts.models import User
from cases import services
from cases.models import Case
from config import caching
from oversight.selectors import SLA_CONFIG_CACHE_KEY
from tests.factories import CustomerFactory, OrganisationFactory, UserFactory
from tests.samples import ABSENT, sample_path, samples_present
from tests.xdist_redis import redis_per_worker

# Property tests: "ci" keeps the suite quick and repeatable; `make fuzz` runs the "long" profile.
hypothesis_settings.register_profile("ci", max_examples=100, derandomize=True, deadline=None)
hypothesis_settings.register_profile("long", max_examples=5_000, deadline=None)
if os.environ.get("HYPOTHESIS_PROFILE"):
    hypothesis_settings.load_profile(os.environ["HYPOTHESIS_PROFILE"])


redis_per_worker()

# Argon2 costs ~50 ms per hash by design; the factories hash a password for every user, and that was three
# quarters of the fast suite. tests/test_security.py keeps the production hasher honest.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that read the public samples (the ``samples`` fixture) carry the ``samples`` marker. Tests with
    a real Celery worker share one pytest-xdist group (``--dist loadgroup``): one at a time, as their timing
    assertions assume, while the other worker runs the rest."""
    for item in items:
        if "samples" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.samples)
        if item.get_closest_marker("worker"):
            item.add_marker(pytest.mark.xdist_group("worker"))


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("samples") and not samples_present():
        pytest.skip(ABSENT)


@pytest.fixture
def samples() -> Callable[[str], Path]:
    """``samples("evtx/x.evtx")``: a file of the public samples (tests/samples.py says where they live);
    the test skips with the reason when it is absent."""
    return sample_path


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    with override_settings(PASSWORD_HASHERS=FAST_PASSWORD_HASHERS):
        yield


@pytest.fixture(autouse=True)
def _isolated_storage(settings, tmp_path):
    """Each test writes uploads, spool files and broker messages under its own temporary folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "uploads"},
        },
    }
    settings.UPLOAD_SPOOL_DIR = tmp_path / "spool"


@pytest.fixture(autouse=True)
def _empty_cache():
    """Each test starts with an empty cache. With REDIS_URL the cache outlives the test database, and the
    ids of a new test database start again at 1: another run's unread count or page fragment for "user 3"
    was read as this test's (query-count tests passed or failed by what an earlier run left). Each
    pytest-xdist worker has a Redis database of its own (tests/xdist_redis.py), so this clears no other's."""
    cache.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language. The language middleware activates a request's language
    and leaves it active in the thread: after a page asked for in Chinese, a later test in the same process
    read its messages in Chinese (which tests ran before which decided, so pytest-xdist's order showed it)."""
    translation.deactivate()


@pytest.fixture(autouse=True)
def _outbox_fast_path_open(monkeypatch):
    """A broker failure in one test pauses the outbox's fast path in this process: not in the next test."""
    monkeypatch.setattr("outbox.services._fast_path_paused_until", 0.0)


@pytest.fixture(autouse=True)
def _fresh_cached_html(monkeypatch):
    """Cached HTML (case page fragments, report bodies) is keyed by ids, versions and periods that a later
    test may reuse with other rows (the earlier ones rolled back): each test has a release of its own."""
    release = uuid.uuid4().hex[:12]
    monkeypatch.setattr(caching, "release_digest", lambda: release)


@pytest.fixture(autouse=True)
def _fresh_service_level_settings():
    """The cached service-level settings of an earlier test would outlive its rolled-back rows."""
    cache.delete(SLA_CONFIG_CACHE_KEY)


@pytest.fixture
def organisation(db):
    return OrganisationFactory(name="Contoso", slug="contoso")


@pytest.fixture
def other_organisation(db):
    return OrganisationFactory(name="Fabrikam", slug="fabrikam")


@pytest.fixture
def customer(organisation) -> User:
    """A customer of the case's organisation."""
    return CustomerFactory(username="alice", organisation=organisation)


@pytest.fixture
def other_customer(other_organisation) -> User:
    """A customer of another organisation: must never see the case."""
    return CustomerFactory(username="bob", organisation=other_organisation)


@pytest.fixture
def engineer(db) -> User:
    return UserFactory(username="engineer", role=User.Role.ENGINEER)


@pytest.fixture
def other_engineer(db) -> User:
    return UserFactory(username="engineer2", role=User.Role.ENGINEER)


@pytest.fixture
def manager(db) -> User:
    return UserFactory(username="manager", role=User.Role.MANAGER)


@pytest.fixture
def account_manager(organisation) -> User:
    tam = UserFactory(username="tam", role=User.Role.ACCOUNT_MANAGER)
    organisation.account_managers.add(tam)
    return tam


@pytest.fixture
def case(organisation, customer, engineer) -> Case:
    """An open case of the customer's organisation, owned by the engineer, in state ``new``."""
    return services.case_create(
        actor=engineer,
        organisation=organisation,
        title="Blue screens 0xBE on Windows 10",
        customer_contact=customer,
        owner=engineer,
    )


@pytest.fixture
def scoped_case(case, engineer) -> Case:
    """The case with a scope sent: ``awaiting_customer``."""
    services.scope_save(
        actor=engineer,
        case=case,
        problem_definition="Terminals crash with 0xBE.",
        scope="Closed when solved, by design, or third party.",
        next_steps="Upload the minidumps and the System log.",
    )
    return services.case_transition(actor=engineer, case=case, name="send_scope")


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def login_api(api_client):
    def _login(user: User | None) -> APIClient:
        if user is not None:
            api_client.force_authenticate(user)
        return api_client

    return _login
