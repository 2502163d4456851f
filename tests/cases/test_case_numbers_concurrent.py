"""Case numbers stay unique when many cases are opened at the same moment (PostgreSQL row lock)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cases import services
from cases.models import Case

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL) for real concurrency"
)
def test_concurrent_case_creation_never_collides(organisation, engineer):
    threads, errors, barrier = 8, [], threading.Barrier(8)

    def open_cases() -> None:
        try:
            barrier.wait()
            for i in range(10):
                services.case_create(actor=engineer, organisation=organisation, title=f"concurrent {i}")
        except Exception as error:  # collect, the assertion below reports them
            errors.append(error)
        finally:
            connection.close()

    workers = [threading.Thread(target=open_cases) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert errors == []
    numbers = list(Case.objects.values_list("number", flat=True))
    digits = [number.split("-")[1] for number in numbers]
    assert len(numbers) == 80
    assert len(set(digits)) == 80  # the counter never hands out one value twice
