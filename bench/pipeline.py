"""Pipeline benchmark: real Celery workers analysing real samples, end to end through the database.

Prints (1) "upload stored" -> "findings visible" with an idle worker (one upload at a time, a kernel
minidump), and (2) a burst of N uploads of mixed real samples with 1 and with 2 worker processes: jobs/s
and the median and 95th percentile of the same latency (queue wait included).

Run: ``python bench/pipeline.py [--burst 200] [--idle 30]``. Uses a throw-away database (Django's test
database machinery: SQLite file or ``test_<name>`` on PostgreSQL) and its own broker (file-system folder,
or Redis database 13 when REDIS_URL is set). Not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from tests.samples import SAMPLES_DIR  # noqa: E402

MIX = [
    "kernel_dump/rizin-testbins__triage_x64.dmp",
    "evtx/python-evtx__system.evtx",
    "user_dump/breakpad__null_read_av.dmp",
    "user_dump/plaso__WER1090.tmp.mdmp",
    "windbg_text/0x139_Adguard_2062.txt",
    "linux_oops/linux_feh_arm_oops.txt",
]


def _setup() -> Path:
    var_dir = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    # Before Django loads: the bench process and its workers share this folder (uploads, broker).
    os.environ["PORTAL_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    return var_dir


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


class Queue:
    """Stored uploads of real samples spread over cases, each with its analysis job queued."""

    def __init__(self, count: int, per_case: int) -> None:
        from django.core.files.storage import storages

        from accounts.models import Organisation
        from cases.models import Case

        organisation = Organisation.objects.create(name="Bench", slug="bench")
        self.per_case = max(per_case, 1)
        self.cases = [
            Case.objects.create(
                number=f"CAS-{90000 + i:05d}-BENCH0", title="Pipeline bench", organisation=organisation
            )
            for i in range(count // self.per_case + 2)
        ]
        self.storage = storages["uploads"]
        self.counter = iter(range(10**6))

    def store_and_queue(self, filename: str, content: bytes) -> tuple[Any, datetime]:
        from django.core.files.base import ContentFile
        from django.utils import timezone

        from analysis import queueing
        from uploads.models import Upload

        number = next(self.counter)
        name = self.storage.save(f"bench/{number}-{filename}", ContentFile(content))
        upload = Upload.objects.create(
            case=self.cases[number // self.per_case % len(self.cases)],
            filename=filename,
            size=len(content),
            offset=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            state=Upload.State.STORED,
            storage_name=name,
            completed_at=timezone.now(),
        )
        stored = timezone.now()  # the upload's row is committed: "upload stored"
        return queueing.job_queue_for_upload(upload=upload), stored


def _latencies(jobs: list[tuple[Any, datetime]]) -> list[float]:
    from analysis.models import AnalysisJob

    finished = dict(
        AnalysisJob.objects.filter(pk__in=[j.pk for j, _ in jobs]).values_list("pk", "finished_at")
    )
    return [(finished[job.pk] - stored).total_seconds() for job, stored in jobs]


def _all_done(ids: list[int]) -> bool:
    from analysis.models import AnalysisJob

    return not AnalysisJob.objects.filter(pk__in=ids).exclude(state__in=["done", "failed"]).exists()


def _idle(broker: Any, queue: Queue, kernel: tuple[str, bytes], count: int) -> None:
    """One upload at a time to an idle worker: stored -> findings visible."""
    from tests.pipeline.realworker import Worker, wait_for

    with Worker(broker, concurrency=1):
        for _ in range(3):  # warm-up: first imports in the pool process
            job, _stored = queue.store_and_queue(*kernel)
            wait_for(lambda job=job: _all_done([job.pk]), 60, "warm-up", every=0.005)
        idle = []
        for _ in range(count):
            job, stored = queue.store_and_queue(*kernel)
            wait_for(lambda job=job: _all_done([job.pk]), 60, "idle job", every=0.005)
            idle.append((job, stored))
    values = _latencies(idle)
    print(
        f"idle worker, kernel minidump x{count}: stored -> findings visible "
        f"median {statistics.median(values) * 1000:.0f} ms, p95 {_percentile(values, 0.95) * 1000:.0f} ms, "
        f"max {max(values) * 1000:.0f} ms"
    )


def _burst(
    broker: Any, queue: Queue, contents: list[tuple[str, bytes]], count: int, concurrency: int
) -> None:
    """``count`` uploads of the mix at once to ``concurrency`` worker processes: jobs/s and latencies."""
    from analysis.models import AnalysisJob
    from tests.pipeline.realworker import Worker, wait_for

    with Worker(broker, concurrency=concurrency):
        job, _stored = queue.store_and_queue(*contents[0])
        wait_for(lambda job=job: _all_done([job.pk]), 60, "warm-up", every=0.01)
        start = time.monotonic()
        burst = [queue.store_and_queue(*contents[i % len(contents)]) for i in range(count)]
        queued = time.monotonic() - start
        ids = [job.pk for job, _ in burst]
        wait_for(lambda ids=ids: _all_done(ids), 600, "the burst", every=0.05)
    values = _latencies(burst)
    first = min(stored for _, stored in burst)
    last = max(AnalysisJob.objects.filter(pk__in=ids).values_list("finished_at", flat=True))
    wall = (last - first).total_seconds()
    failed = AnalysisJob.objects.filter(pk__in=ids, state="failed").count()
    print(
        f"burst of {count}, {concurrency} worker process(es): {count / wall:.1f} jobs/s "
        f"({wall:.1f} s; queueing took {queued:.1f} s), stored -> findings visible "
        f"median {statistics.median(values) * 1000:.0f} ms, p95 {_percentile(values, 0.95) * 1000:.0f} ms"
        + (f", {failed} failed" if failed else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--idle", type=int, default=30)
    parser.add_argument(
        "--per-case", type=int, default=10, help="uploads per case (case findings are recomputed per job)"
    )
    args = parser.parse_args()
    missing = [name for name in MIX if not (SAMPLES_DIR / name).exists()]
    if missing:
        print(f"samples absent at {SAMPLES_DIR} ({missing[0]}...): nothing to measure")
        return
    var_dir = _setup()

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from tests.pipeline.realworker import Broker

    old_config = setup_databases(verbosity=0, interactive=False)
    queue = Queue(args.burst, args.per_case)
    contents = [(name.split("/")[-1], (SAMPLES_DIR / name).read_bytes()) for name in MIX]
    print(f"database: {connection.vendor}; broker: {'redis' if settings.REDIS_URL else 'filesystem'}")
    print(f"samples: {', '.join(name for name, _ in contents)}; {args.per_case} uploads per case")
    try:
        with Broker(var_dir) as broker:
            _idle(broker, queue, contents[0], args.idle)
            for concurrency in (1, 2):
                _burst(broker, queue, contents, args.burst, concurrency)
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
