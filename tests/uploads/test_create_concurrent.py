"""A new upload beside another writer of the same case and organisation (a worker recording an analysis:
it raises the case's version and writes rows that refer to the organisation): both go through.

PostgreSQL checks Django's foreign keys at commit (they are deferred): the other writer's commit then
takes a key-share lock on the organisation. The upload used to hold the organisation FOR UPDATE (for its
quota) while it waited to update the case the other writer held: a deadlock, and a 500 for the uploader.
Seen once in CI (tests/storage/test_several_hosts.py); reproduced here step by step."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from cases.live import case_touch
from tests.factories import CustomerFactory
from uploads import services
from uploads.models import Upload

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL) for real concurrency"
)
def test_an_upload_created_beside_another_writer_never_deadlocks(monkeypatch, case, customer):
    touched, quota_locked, errors = threading.Event(), threading.Event(), []
    require_quota = services._require_quota

    def quota_then_wait(*, case, size):  # type: ignore[no-untyped-def]
        if connection.in_atomic_block:  # the check under the organisation's lock
            quota_locked.set()
            threading.Event().wait(0.3)  # the other writer commits meanwhile
        require_quota(case=case, size=size)

    monkeypatch.setattr(services, "_require_quota", quota_then_wait)

    def other_writer() -> None:
        try:
            with transaction.atomic():
                case_touch(case_id=case.pk)
                CustomerFactory(organisation=case.organisation)  # a row referring to the organisation
                touched.set()
                quota_locked.wait(5)
        except Exception as error:  # collected: the assertion below reports it
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    touched.wait(5)
    upload = None
    try:
        upload = services.upload_create(actor=customer, case=case, filename="MEMORY.DMP", size=10)
    except Exception as error:  # collected with the other writer's
        errors.append(error)
    thread.join(20)
    assert errors == []
    assert upload is not None and Upload.objects.filter(pk=upload.pk).exists()


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL) for real concurrency"
)
def test_two_uploads_never_both_take_the_last_of_the_quota(settings, case, customer):
    """The organisation's lock still takes creations in turn: of two that fit alone but not together, one
    is refused with the reason."""
    settings.UPLOAD_CASE_QUOTA = 1500
    barrier, outcomes = threading.Barrier(2), []

    def create(name: str) -> None:
        try:
            barrier.wait()
            services.upload_create(actor=customer, case=case, filename=name, size=1000)
            outcomes.append("created")
        except Exception as error:  # the refusal: collected and checked below
            outcomes.append(str(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(f"{n}.dmp",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    refusals = [outcome for outcome in outcomes if outcome != "created"]
    assert len(outcomes) == 2 and len(refusals) == 1
    assert "does not fit in the case's quota" in refusals[0]
    assert Upload.objects.filter(case=case).count() == 1
