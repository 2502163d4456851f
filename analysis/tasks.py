"""Celery tasks of the analysis pipeline: thin, take ids, own the retry policy (STYLE.md rule 5).

Reliability settings (late ack, reject on worker lost, prefetch 1, time limits, visibility timeout) are in
config/settings.py with their reasons; the attempts counter and the lease are in analysis.services.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files.storage import Storage, storages
from django.db import DatabaseError, InterfaceError, OperationalError
from django.utils.translation import gettext as _

from analysis import cross_case, services

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
RETRY_BACKOFF_MAX = 600
COPY_CHUNK = 8 * 1024 * 1024


class TransientError(Exception):
    """Storage or network trouble worth trying again later (never a bad file)."""


def _transient_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [
        TransientError,
        OperationalError,
        InterfaceError,
        ConnectionError,
        TimeoutError,
    ]
    try:  # S3 storage: connection-level failures only; a 404 or 403 is not going to heal by waiting
        from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError

        errors += [EndpointConnectionError, ConnectionClosedError, ReadTimeoutError]
    except ImportError:
        pass
    return tuple(errors)


TRANSIENT_ERRORS = _transient_errors()


def retry_delay(retries: int) -> int:
    """Exponential backoff with full jitter: 0..2, 0..4, 0..8 s... capped at RETRY_BACKOFF_MAX."""
    return random.randint(1, min(RETRY_BACKOFF_MAX, 2 ** (retries + 1)))


@contextmanager
def local_path(storage: Storage, name: str) -> Iterator[str]:
    """A local path to a stored file: the file itself on local storage, a temporary copy otherwise (S3).

    The copy is removed on exit, whatever happens.
    """
    try:
        path = storage.path(name)
    except NotImplementedError:
        path = None
    if path is not None:
        if not os.path.exists(path):
            raise FileNotFoundError(path)
        yield path
        return
    with tempfile.NamedTemporaryFile(prefix="analysis-", suffix=Path(name).suffix[:16]) as copy:
        with storage.open(name, "rb") as source:
            shutil.copyfileobj(source, copy, COPY_CHUNK)
        copy.flush()
        yield copy.name


def _parse(path: str, display_name: str):  # type: ignore[no-untyped-def]
    # Looked up at call time so the fault-injection tests can wrap it in their worker.
    from analysis.parsers import parse_file

    return parse_file(path, display_name=display_name)


@shared_task(name="analysis.tasks.analyse_upload", bind=True, max_retries=MAX_RETRIES)
def analyse_upload(self: Task, job_id: int) -> str:
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
        with local_path(storages["uploads"], upload.storage_name) as path:
            result = _parse(path, upload.filename)
        services.job_complete(job_id=job_id, task_id=task_id, result=result)
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


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


@shared_task(name="analysis.tasks.jobs_reconcile", soft_time_limit=50, time_limit=60)
def jobs_reconcile() -> int:
    """Beat, every minute: publish again jobs whose message was lost; also the workers' heartbeat."""
    worker_heartbeat()
    return len(services.jobs_reconcile())


@shared_task(name="analysis.tasks.worker_heartbeat", soft_time_limit=10, time_limit=20)
def worker_heartbeat() -> str:
    """Beat, every 30 s, run by an analysis worker: /healthz reads its age to tell if workers take tasks."""
    return services.worker_heartbeat_record(worker=worker_heartbeat.request.hostname or "unknown")["at"]


@shared_task(name="analysis.tasks.marks_rebuild", soft_time_limit=600, time_limit=660)
def marks_rebuild() -> int:
    """Beat, nightly: recompute the cross-case counters from the crashes (a deleted case or upload moves
    no counter by itself)."""
    return cross_case.marks_rebuild()
