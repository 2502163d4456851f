"""The Celery app for the pipeline tests' real worker: config.celery's app with fault-injection hooks.

Started as ``celery -A tests.pipeline.worker_app worker ...``; the hooks wrap the parser call only in that
process tree, so nothing test-specific lives in the production code. A stored file starting with
``PIPELINE-TEST-KILL`` makes the pool process SIGKILL itself (like the OOM killer); one starting with
``PIPELINE-TEST-SLOW`` sleeps PIPELINE_TEST_SLOW_SECONDS, then parses the sample named by
PIPELINE_TEST_SAMPLE, so a kill can land in the middle of a job whose result is known.
"""

from __future__ import annotations

import os
import signal
import time

from config.celery import app

KILL_MARKER = b"PIPELINE-TEST-KILL"
SLOW_MARKER = b"PIPELINE-TEST-SLOW"

__all__ = ["app"]


def _install() -> None:
    # Late: this module is the worker subprocess's Celery app, loaded before Django is set up; the tasks'
    # module needs the app registry.
    import django

    django.setup()
    from analysis import tasks

    real_parse = tasks._parse

    def parse_with_faults(path, display_name: str, kind=None):  # type: ignore[no-untyped-def]
        if isinstance(path, str | os.PathLike):
            with open(path, "rb") as handle:
                head = handle.read(len(SLOW_MARKER))
        else:  # a file in object storage, read through a seekable reader
            head = path.read(len(SLOW_MARKER))
            path.seek(0)
        if head == KILL_MARKER:
            os.kill(os.getpid(), signal.SIGKILL)
        if head == SLOW_MARKER:
            time.sleep(float(os.environ.get("PIPELINE_TEST_SLOW_SECONDS", "3")))
            return real_parse(os.environ["PIPELINE_TEST_SAMPLE"], display_name)
        return real_parse(path, display_name, kind)

    tasks._parse = parse_with_faults


_install()
