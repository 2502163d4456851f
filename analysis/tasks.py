"""Celery tasks of the analysis pipeline: thin, take ids, own the retry policy (STYLE.md rule 5).

Reliability settings (late ack, reject on worker lost, prefetch 1, time limits, visibility timeout) are in
config/settings_parts/tasks.py with their reasons; the attempts counter and the lease are in analysis.services.
The task imports the services; the services publish it by name (analysis.queueing), never import it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, cast

from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import Storage, storages
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext as _

from analysis import cross_case, heartbeat, reconcile, services
from analysis.parsers.result import Kind, ParseResult
from analysis.rules import analyse_file
from uploads import bucket, files
from uploads.models import Upload

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
RETRY_BACKOFF_MAX = 600


class TransientError(Exception):
    """Storage or network trouble worth trying again later (never a bad file)."""


# S3 storage: connection-level failures only; a 404 or 403 is not going to heal by waiting.
TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    TransientError,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
)


def retry_delay(retries: int) -> int:
    """Exponential backoff with full jitter: 0..2, 0..4, 0..8 s... capped at RETRY_BACKOFF_MAX."""
    return random.randint(1, min(RETRY_BACKOFF_MAX, 2 ** (retries + 1)))


@contextmanager
def stored_source(storage: Storage, name: str, size: int | None = None) -> Iterator[str | BinaryIO]:
    """What the parsers read: the file itself on local storage; on object storage a seekable reader
    that fetches only the byte ranges read (a kernel dump's header, not its 16 GiB), whose first bytes
    are fetched here so a missing object or an unreachable bucket shows before any parsing."""
    try:
        path = storage.path(name)
    except NotImplementedError:
        path = None
    if path is not None:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        yield path
        return
    if not files.storage_is_bucket():
        with storage.open(name, "rb") as handle:  # another storage: the parsers copy what they need
            yield cast(BinaryIO, handle)  # a Django File proxies the binary file it holds
        return
    try:
        reader = bucket.open_ranged(name, size=size)
        reader.peek(1)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            raise FileNotFoundError(name) from error
        if bucket.is_transient(error):
            raise TransientError(str(error)) from error
        raise
    with reader:
        yield reader


def _parse(path: str | BinaryIO, display_name: str, kind: Kind | None = None) -> ParseResult:
    # Looked up at call time so the fault-injection tests can wrap it in their worker. ``kind`` is what
    # the upload side detected when it stored the file: the parsers do not detect it again.
    return analyse_file(path, display_name=display_name, kind=kind)


@shared_task(name="analysis.tasks.analyse_upload", bind=True, max_retries=MAX_RETRIES)
def analyse_upload(self: Task[[int], str], job_id: int) -> str:
    """Run the parsers on the job's upload and record the outcome; transient errors are retried with
    backoff, a bad file never is (it gets an explained finding)."""
    task_id = self.request.id or f"direct-{job_id}"
    try:
        claim = services.job_start(job_id=job_id, task_id=task_id, worker=self.request.hostname or "direct")
    except TRANSIENT_ERRORS as error:  # database unavailable before the job is ours: try again later
        if self.request.called_directly or self.request.retries >= MAX_RETRIES:
            raise
        raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
    if claim is None:
        return "skipped"
    upload = claim.upload
    try:
        result = _parse_stored(upload)
        services.job_complete(job_id=job_id, task_id=task_id, result=result)
        logger.info(
            "analysis job %s done: upload %s, %s, %d crashes, %d findings",
            job_id,
            upload.pk,
            result.kind,
            len(result.crashes),
            len(result.findings),
        )
        return "done"
    except SoftTimeLimitExceeded:
        services.job_fail(
            job_id=job_id,
            task_id=task_id,
            reason=_(
                "Analysis took longer than its limit of %(seconds)d seconds; the file needs manual analysis."
            )
            % {"seconds": claim.soft_time_limit},
        )
        return "failed"
    except FileNotFoundError:
        services.job_fail(job_id=job_id, task_id=task_id, reason=_("The stored file is missing."))
        return "failed"
    except TRANSIENT_ERRORS as error:
        if self.request.retries >= MAX_RETRIES or self.request.called_directly:
            services.job_fail(
                job_id=job_id,
                task_id=task_id,
                reason=_("Storage or database unavailable: %(error)s") % {"error": _describe(error)},
            )
            return "failed"
        logger.warning("analysis job %s: transient error, retrying: %s", job_id, _describe(error))
        # If even this fails, the retry carries the same message id and may take the job over as it is.
        with contextlib.suppress(DatabaseError):
            services.job_release(job_id=job_id, task_id=task_id)
        raise self.retry(exc=error, countdown=retry_delay(self.request.retries)) from error
    except Exception as error:  # a bug of ours: fail the job with the reason rather than loop
        logger.exception("analysis job %s failed", job_id)
        services.job_fail(
            job_id=job_id,
            task_id=task_id,
            reason=_("Internal error: %(error)s") % {"error": _describe(error)},
        )
        return "failed"


def _parse_stored(upload: Upload) -> ParseResult:
    with stored_source(storages["uploads"], upload.storage_name, upload.size) as source:
        # The column holds the parser Kind the upload side detected ("" when none was).
        return _parse(source, upload.filename, cast("Kind | None", upload.detected_kind or None))


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


@shared_task(name="analysis.tasks.jobs_reconcile", soft_time_limit=50, time_limit=60)
def jobs_reconcile() -> int:
    """Beat, every minute: publish again jobs whose message was lost; also the workers' heartbeat."""
    worker_heartbeat()
    return len(reconcile.jobs_reconcile())


@shared_task(name="analysis.tasks.worker_heartbeat", soft_time_limit=10, time_limit=20)
def worker_heartbeat() -> str:
    """Beat, every 30 s, run by an analysis worker: /healthz reads its age to tell if workers take tasks."""
    return heartbeat.worker_heartbeat_record(worker=worker_heartbeat.request.hostname or "unknown")["at"]


@shared_task(name="analysis.tasks.marks_rebuild", soft_time_limit=600, time_limit=660)
def marks_rebuild() -> int:
    """Beat, nightly: recompute the cross-case counters from the crashes (a deleted case or upload moves
    no counter by itself)."""
    return cross_case.marks_rebuild()
