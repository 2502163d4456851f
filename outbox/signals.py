"""Workers report the start and the end of every task published through the outbox (task ids
``outbox-<row>-<n>``), so the dispatcher knows which messages are still open."""

from __future__ import annotations

from typing import Any

from celery.signals import task_postrun, task_prerun

from outbox.services import TASK_ID_PREFIX, outbox_task_ended, outbox_task_started


@task_prerun.connect(dispatch_uid="outbox_task_started")
def _started(sender: Any = None, task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id and task_id.startswith(TASK_ID_PREFIX):
        outbox_task_started(task_id=task_id, worker=getattr(task.request, "hostname", "") or "")


@task_postrun.connect(dispatch_uid="outbox_task_ended")
def _ended(
    sender: Any = None,
    task_id: str | None = None,
    retval: Any = None,
    state: str | None = None,
    **kwargs: Any,
) -> None:
    if task_id and task_id.startswith(TASK_ID_PREFIX):
        error = f"{type(retval).__name__}: {retval}" if isinstance(retval, BaseException) else ""
        outbox_task_ended(task_id=task_id, outcome=state or "", error=error)
