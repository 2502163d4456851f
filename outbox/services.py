"""The outbox's writes: record a task message in the caller's transaction, publish what is pending, and
follow each message until its task ends (STYLE.md rules 2 and 4; docs/pipeline.md, "Outbox").

A request whose transaction committed has done its part whatever the broker does: the message is a row.
It is published right after the commit when the broker answers (the fast path), otherwise by the
dispatcher (beat, every OUTBOX_DISPATCH_INTERVAL seconds) once the broker is back. A message stays open
until a worker reports its task ended, so one lost inside the broker (Redis restarted empty) or with
its worker (killed as a whole) is published again; consumers are idempotent, and each publish carries
its own task id (``outbox-<row>-<n>``), so a message is acted on once.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from config.celery import app
from outbox.models import OutboxMessage

logger = logging.getLogger(__name__)

TASK_ID_PREFIX = "outbox-"
OPEN_STATES = (OutboxMessage.State.PENDING, OutboxMessage.State.DISPATCHED, OutboxMessage.State.STARTED)
# A worker reports a task's start a moment after it takes the message, and a retry's new message reaches
# a worker a moment after it is published: an entry is judged orphaned only after this long unseen.
ORPHAN_GRACE = timedelta(seconds=5)
# The fast path must not hold a request when the broker is down: one quick retry, then the dispatcher.
FAST_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


class BrokerUnavailable(Exception):
    """The broker did not answer; what is pending stays pending."""


@dataclass(frozen=True)
class DispatchResult:
    published: int
    republished: int
    failed: int
    error: str = ""


def outbox_publish(
    *,
    task: str,
    args: Sequence[Any] = (),
    kwargs: dict[str, Any] | None = None,
    key: str | None = None,
    **options: Any,
) -> OutboxMessage:
    """Record the message for Celery task ``task`` in the caller's transaction (call it inside the
    transaction that makes the change); it is published after the commit. ``key`` is the idempotency
    key: a second call with the same key returns the first row and publishes nothing more. ``options``
    are apply_async options (``countdown``, ``soft_time_limit``, ``time_limit``, ``queue``)."""
    with transaction.atomic():
        message, created = OutboxMessage.objects.get_or_create(
            key=(key or f"{task}:{uuid.uuid4().hex}")[:200],
            defaults={"task": task, "args": list(args), "kwargs": kwargs or {}, "options": options},
        )
    if created:
        message_id = message.pk
        transaction.on_commit(lambda: _dispatch_now(message_id), robust=True)
    return message


# After the broker failed a fast path, this process leaves messages to the dispatcher for a while: a
# broker that hangs (2 s connect timeout) must not add 2 s per message to every request meanwhile.
FAST_PATH_PAUSE = 5.0
_fast_path_paused_until = 0.0
_monotonic = time.monotonic


def _dispatch_now(message_id: int) -> None:
    # The fast path, after the commit: never an error for the request that committed.
    global _fast_path_paused_until
    if _monotonic() < _fast_path_paused_until:
        return
    try:
        outbox_dispatch(ids=[message_id])
    except Exception as error:
        _fast_path_paused_until = _monotonic() + FAST_PATH_PAUSE
        logger.warning("outbox message %s left for the dispatcher: %s", message_id, _describe(error))


_EPOCH_CLIENTS: dict[str, Any] = {}


def broker_epoch() -> str:
    """The broker's identity: Redis's ``run_id`` (a new one after every restart), ``""`` for brokers
    without one. Raises BrokerUnavailable when the broker does not answer.

    Asked on a plain Redis client of its own: the broker connections of a worker are busy consuming,
    and a command sent on one of them read another reply (seen: "too many values to unpack")."""
    url = str(app.conf.broker_url or "")
    if not url.startswith(("redis://", "rediss://")):
        return ""
    try:
        client = _EPOCH_CLIENTS.get(url)
        if client is None:
            client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            _EPOCH_CLIENTS[url] = client
        return str(client.info("server").get("run_id", ""))
    except Exception as error:
        raise BrokerUnavailable(_describe(error)) from error


def _send(message: OutboxMessage, task_id: str) -> None:
    options = {"task_id": task_id, "retry": True, "retry_policy": FAST_RETRY_POLICY, **message.options}
    task_send_now(task=message.task, args=message.args, kwargs=message.kwargs, **options)


def task_send_now(
    *, task: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None, **options: Any
) -> None:
    """Publish a task by its name now, outside the outbox (call outside a transaction or from on_commit).

    By name, so that services never import the tasks modules that import them."""
    if task not in app.tasks:  # tasks modules load lazily outside a worker
        with contextlib.suppress(ImportError):
            importlib.import_module(task.rpartition(".")[0])
    found = app.tasks.get(task)
    if found is not None:  # the task's own options and routing apply (and eager mode in tests)
        # A list, as the outbox recorded it (celery-types asks for a tuple; Celery takes either).
        found.apply_async(args=list(args), kwargs=kwargs or {}, **options)  # type: ignore[arg-type]
    else:  # a task of a module this process did not import: by name, routed by CELERY_TASK_ROUTES
        app.send_task(task, args=list(args), kwargs=kwargs or {}, **options)


def outbox_dispatch(
    *, ids: Sequence[int] | None = None, limit: int = 500, now: datetime | None = None
) -> DispatchResult:
    """Publish pending messages, oldest first (only ``ids`` on the fast path). The dispatcher (no
    ``ids``) also publishes again the open messages the broker lost (its identity changed since they
    were published) and those whose worker vanished. Stops at the first broker error; the rows keep
    the error and stay open."""
    now = now or timezone.now()
    epoch = broker_epoch()
    lost: list[int] = [] if ids is not None else _lost_messages(epoch=epoch, now=now)
    wanted = Q(state=OutboxMessage.State.PENDING)
    if ids is not None:
        wanted &= Q(pk__in=list(ids))
    elif lost:
        wanted |= Q(pk__in=lost)
    published = republished = failed = 0
    error = ""
    with transaction.atomic():
        # Two dispatchers (beat and a request's fast path) never publish the same row at once.
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(wanted, state__in=OPEN_STATES)
            .order_by("id")[:limit]
        )
        for row in rows:
            if row.dispatches >= settings.OUTBOX_MAX_DISPATCHES:
                _give_up(row, now)
                failed += 1
                continue
            again = row.state != OutboxMessage.State.PENDING
            task_id = f"{TASK_ID_PREFIX}{row.pk}-{row.dispatches + 1}"
            # Recorded before the publish (the row is locked until the commit either way), so a task run
            # at once (eager mode, or a worker on this connection) reports on the row as it will stand.
            with transaction.atomic():
                OutboxMessage.objects.filter(pk=row.pk).update(
                    state=OutboxMessage.State.DISPATCHED,
                    dispatched_at=now,
                    dispatches=row.dispatches + 1,
                    task_id=task_id,
                    broker_epoch=epoch,
                )
                try:
                    _send(row, task_id)
                except Exception as send_error:
                    error = _describe(send_error)
                    sent = False
                else:
                    sent = True
                if not sent:
                    transaction.set_rollback(True)
            if not sent:
                OutboxMessage.objects.filter(pk=row.pk).update(last_error=error)
                break
            if again:
                republished += 1
            else:
                published += 1
    if republished:
        logger.warning("outbox: published %d lost messages again", republished)
    return DispatchResult(published=published, republished=republished, failed=failed, error=error)


def _give_up(row: OutboxMessage, now: datetime) -> None:
    row.state = OutboxMessage.State.FAILED
    row.done_at = now
    row.last_error = (
        f"published {row.dispatches} times without its task ever ending; see the worker logs. "
        + row.last_error
    )[:2000]
    row.save(update_fields=["state", "done_at", "last_error"])
    logger.error("outbox message %s (%s) given up: %s", row.pk, row.task, row.last_error)


def _lost_messages(*, epoch: str, now: datetime) -> list[int]:
    """Open messages published before the broker lost its contents, or held by a worker that vanished."""
    open_published = OutboxMessage.objects.filter(
        state__in=[OutboxMessage.State.DISPATCHED, OutboxMessage.State.STARTED]
    )
    lost: set[int] = set()
    if epoch:
        lost |= set(open_published.exclude(broker_epoch=epoch).values_list("pk", flat=True)[:1000])
    # A worker killed as a whole keeps its messages unacknowledged until Redis's visibility timeout
    # (half an hour); one that is no longer executing, reserving or scheduling them has lost them.
    candidates = list(
        open_published.exclude(pk__in=lost)
        .filter(
            Q(state=OutboxMessage.State.STARTED, seen_at__lt=now - ORPHAN_GRACE)
            | Q(
                state=OutboxMessage.State.DISPATCHED,
                dispatched_at__lt=now - timedelta(seconds=settings.OUTBOX_REDISPATCH_AFTER),
            )
        )
        .values_list("pk", "task_id")[:1000]
    )
    if candidates:
        live = live_task_ids([task_id for _pk, task_id in candidates])
        if live is not None:
            lost |= {pk for pk, task_id in candidates if task_id not in live}
            # Alive: judged again once the grace has passed, not at every run.
            OutboxMessage.objects.filter(
                pk__in=[pk for pk, task_id in candidates if task_id in live],
                state=OutboxMessage.State.STARTED,
            ).update(seen_at=now)
    return sorted(lost)


def live_task_ids(task_ids: Sequence[str]) -> set[str] | None:
    """Which of ``task_ids`` a worker is executing, holding or scheduling now (one control broadcast of
    about 1 s); ``None`` when no worker answers (then nothing can be judged orphaned)."""
    try:
        replies = app.control.inspect(timeout=1.0).query_task(*task_ids)
    except Exception:
        return None
    if not replies:
        return None
    return {task_id for tasks in replies.values() for task_id in (tasks or {})}


def _message_id(task_id: str | None) -> int | None:
    if not task_id or not task_id.startswith(TASK_ID_PREFIX):
        return None
    head = task_id[len(TASK_ID_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isascii() and head.isdigit() else None


def outbox_task_started(*, task_id: str, worker: str) -> bool:
    """A worker started (or restarted after a retry) the task of an outbox message."""
    message_id = _message_id(task_id)
    if message_id is None:
        return False
    return bool(
        OutboxMessage.objects.filter(pk=message_id, state__in=OPEN_STATES).update(
            state=OutboxMessage.State.STARTED, seen_at=timezone.now(), task_id=task_id, worker=worker[:200]
        )
    )


def outbox_task_ended(*, task_id: str, outcome: str, error: str = "") -> bool:
    """The task of an outbox message ended: done whatever it returned, unless it only scheduled a retry
    (then it stays open, seen now)."""
    message_id = _message_id(task_id)
    if message_id is None:
        return False
    now = timezone.now()
    open_rows = OutboxMessage.objects.filter(pk=message_id, state__in=OPEN_STATES)
    if outcome == "RETRY":
        return bool(open_rows.update(seen_at=now, last_error=error[:2000]))
    return bool(open_rows.update(state=OutboxMessage.State.DONE, done_at=now, last_error=error[:2000]))


def outbox_purge(*, now: datetime | None = None) -> int:
    """Delete entries ended more than OUTBOX_KEEP_DAYS ago (given-up ones stay for an operator)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.OUTBOX_KEEP_DAYS)
    deleted, _ = OutboxMessage.objects.filter(state=OutboxMessage.State.DONE, done_at__lt=cutoff).delete()
    return deleted


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]
