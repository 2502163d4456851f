"""gunicorn settings of the web service (docker-compose.yml): Prometheus' multiprocess mode.

With several workers each keeps its own counters; prometheus-client writes them to files in
PROMETHEUS_MULTIPROC_DIR and /metrics sums them. The folder is emptied when the master starts (stale
files of an earlier run would be summed too) and a dead worker's live gauges are dropped."""

import os
import shutil


def on_starting(server):  # noqa: ARG001 - gunicorn's hook signature
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder, exist_ok=True)


def child_exit(server, worker):  # noqa: ARG001
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
