"""Fixtures of the pipeline tests: stored uploads with real content in the (temporary) uploads storage."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages

from accounts.models import User
from cases.models import Case
from uploads.models import Upload


def store_upload(*, case: Case, content: bytes, filename: str, uploaded_by: User | None = None) -> Upload:
    """An upload in state ``stored`` whose bytes are in the uploads storage, as the tus side leaves it."""
    storage = storages["uploads"]
    name = storage.save(f"{case.number}/{filename}", ContentFile(content))
    return Upload.objects.create(
        case=case,
        uploaded_by=uploaded_by,
        filename=filename,
        size=len(content),
        offset=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        state=Upload.State.STORED,
        storage_name=name,
    )


@pytest.fixture
def make_upload(case, customer) -> Callable[..., Upload]:
    def _make(
        content: bytes = b"not a dump", filename: str = "file.bin", on_case: Case | None = None
    ) -> Upload:  # noqa: E501
        return store_upload(case=on_case or case, content=content, filename=filename, uploaded_by=customer)

    return _make


KERNEL_DUMP = "kernel_dump/rizin-testbins__triage_x64.dmp"
SYSTEM_LOG = "evtx/python-evtx__system.evtx"
USER_DUMP = "user_dump/breakpad__null_read_av.dmp"


@pytest.fixture
def kernel_dump_upload(make_upload, samples) -> Upload:
    path = samples(KERNEL_DUMP)
    return make_upload(content=path.read_bytes(), filename="Mini022121-01.dmp")


@pytest.fixture
def system_log_upload(make_upload, samples) -> Upload:
    path = samples(SYSTEM_LOG)
    return make_upload(content=path.read_bytes(), filename="System.evtx")
