"""The Celery application; its settings live in config/settings_parts/tasks.py under the CELERY_ namespace."""

import contextlib
import os
from typing import Any

from celery import Celery
from celery.worker.consumer import Consumer as CeleryConsumer

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class Consumer(CeleryConsumer):
    """Celery's consumer, reconnecting to a broker that went away every few seconds. kombu's default
    waits 2, 4, 6 ... up to 30 s between attempts, so after a long Redis outage a worker could sit up to
    30 s idle with the broker back (issue 14: recovery within 30 s); every RECONNECT_MAX seconds at most
    costs one connection attempt."""

    RECONNECT_MAX = 3.0

    def ensure_connected(self, conn: Any) -> Any:
        connect = conn.ensure_connection

        def capped(*args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("interval_start", 1)
            kwargs.setdefault("interval_step", 1)
            kwargs.setdefault("interval_max", self.RECONNECT_MAX)
            return connect(*args, **kwargs)

        conn.ensure_connection = capped
        return super().ensure_connected(conn)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        # Celery empties the connection (collect()) and then closes it; kombu's Redis channel, on close,
        # restores its unacknowledged messages through that emptied connection and raises AttributeError
        # ("'NoneType' object has no attribute 'hostname'"), which ignore_errors() lets through: the
        # consumer died and the worker never took another task after Redis came back (bench/faults.py,
        # Redis stopped while acks_late tasks ran). The messages cannot be restored with Redis gone; the
        # outbox publishes them again.
        connection = self.connection
        if connection is not None:
            close = connection.close

            def close_quietly() -> None:
                with contextlib.suppress(AttributeError):
                    close()

            # Only this connection object's close is replaced, on purpose.
            connection.close = close_quietly  # type: ignore[method-assign]
        super().on_connection_error_after_connected(exc)


app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
