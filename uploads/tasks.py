"""Celery tasks of uploads: thin, take ids, call services (STYLE.md rule 5)."""

from __future__ import annotations

from typing import TypedDict

from celery import shared_task
from django.db import OperationalError

from uploads import archives, housekeeping, scanning, services
from uploads.errors import StorageUnavailable

# Expanding is I/O on files we own and can be repeated safely (idempotent service), so only transient
# storage and database errors are retried.
_TRANSIENT: tuple[type[Exception], ...] = (OperationalError, ConnectionError, TimeoutError)


class _RetryOptions(TypedDict):
    autoretry_for: tuple[type[Exception], ...]
    retry_backoff: bool
    retry_jitter: bool
    max_retries: int
    acks_late: bool


# Work on a file that can be repeated: transient errors retried with backoff, the message acknowledged
# only when the task ends (a killed worker's task is delivered again).
_RETRIED: _RetryOptions = {
    "autoretry_for": _TRANSIENT,
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
    "acks_late": True,
}


@shared_task(**_RETRIED, soft_time_limit=600, time_limit=660)
def upload_expand_archive(upload_id: str) -> str:
    """Expand a stored archive into member uploads, or mark it rejected with the reason."""
    return archives.archive_expand(upload_id=upload_id).state


@shared_task(
    autoretry_for=(*_TRANSIENT, scanning.ScannerUnavailable),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
    acks_late=True,
    # clamd scans about 40 MB/s: a 2 GB file takes about a minute; the limits leave room for a busy daemon.
    soft_time_limit=600,
    time_limit=660,
)
def upload_scan(upload_id: str) -> str:
    """Virus-scan a held upload; a clean file goes on to analysis, an infected one is quarantined."""
    return scanning.upload_scan_run(upload_id=upload_id).scan


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3, soft_time_limit=300, time_limit=330)
def upload_expire_sweep() -> int:
    """Beat: remove the partial files of abandoned uploads past their expiry (audited)."""
    return housekeeping.upload_expire_abandoned()


# Copying a 64 GiB dump to object storage at 100 MB/s takes about 11 minutes (or, with chunks sent to
# the bucket as they arrive, hashing it back when the web hosts could not keep the running hash). A bucket
# that does not answer is retried, with backoff, for about an hour; the sweep takes over after that.
@shared_task(
    autoretry_for=(*_TRANSIENT, StorageUnavailable),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=10,
    acks_late=True,
    soft_time_limit=3600,
    time_limit=3660,
)
def upload_finish_task(upload_id: str, sha256: str | None) -> str:
    """Complete an upload whose last chunk was acknowledged: hash check, type, copy into object storage."""
    upload = services.upload_finish_queued(upload_id=upload_id, sha256=sha256)
    return upload.state if upload is not None else "skipped"


@shared_task(soft_time_limit=3600, time_limit=3660)
def upload_finish_sweep() -> int:
    """Beat: finish uploads whose bytes all arrived but whose completion failed (with local files the
    spool must be readable where this runs; with a bucket the parts are there already)."""
    return housekeeping.upload_finish_stranded()


@shared_task(autoretry_for=_TRANSIENT, retry_backoff=True, max_retries=3, soft_time_limit=600, time_limit=660)
def upload_retention_sweep() -> int:
    """Beat: delete files UPLOAD_RETENTION_DAYS after their case closed, keeping the metadata (audited)."""
    return housekeeping.upload_retention_apply()
