"""Faults: nothing lost, nothing done twice (issue 8, "Faults"; research/reliability.md C1-C5, U1).

- an upload cut off at twenty random offsets and resumed each time ends stored with the right SHA-256,
  and its one analysis job ends ``done`` exactly once;
- Redis restarted, empty, while jobs are queued (only with REDIS_URL; our own redis-server on a spare
  port, never the shared one): the reconciler publishes them again and each ends done exactly once;
- PostgreSQL connections of the worker terminated mid-job (only with a PostgreSQL DATABASE_URL): the job
  is retried and ends done exactly once.
A worker killed mid-job (pool process and whole worker) is tests/pipeline/test_worker.py.
"""

from __future__ import annotations

import base64
import hashlib
import random
import shutil
import socket
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token

from analysis import services
from analysis.models import AnalysisJob, Crash, Finding
from tests.analysis.test_linux_oops import X86_OOPS
from tests.pipeline.conftest import KERNEL_DUMP, sample, store_upload
from tests.pipeline.realworker import Broker, Worker, wait_for
from tests.pipeline.worker_app import SLOW_MARKER
from uploads.models import Upload

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CUTS = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _finished(jobs: list[AnalysisJob]) -> bool:
    states = AnalysisJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True)
    return all(state in ("done", "failed") for state in states)


def _assert_done_exactly_once(jobs: list[AnalysisJob]) -> None:
    for job in jobs:
        job.refresh_from_db()
        assert job.state == "done", (job.pk, job.state, job.error)
        assert AnalysisJob.objects.filter(upload_id=job.upload_id).count() == 1
        assert Crash.objects.filter(upload_id=job.upload_id).count() == 1
    per_upload = {Finding.objects.filter(upload_id=job.upload_id).count() for job in jobs}
    assert len(per_upload) == 1 and per_upload.pop() > 0  # same file, same findings, no duplicates


# -- an upload cut off twenty times ---------------------------------------------------------------------------


def _cut_patch(url: str, token: str, offset: int, body: bytes, cut_after: int) -> None:
    """Send a PATCH for ``body`` at ``offset`` but only ``cut_after`` bytes of it, then drop the socket."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + body[:cut_after])
    sock.close()  # the connection drops mid-body


def _server_offset(url: str, headers: dict[str, str], expected: int) -> int:
    offset = -1
    for _attempt in range(200):
        offset = int(requests.head(url, headers=headers, timeout=5).headers["Upload-Offset"])
        if offset == expected:
            break
        time.sleep(0.05)
    return offset


def test_upload_cut_at_twenty_random_offsets_is_stored_whole_and_analysed_once(
    live_server, case, customer, tmp_path
):
    rng = random.Random(20)
    filler = "".join(f"[{n:8d}.000000] filler line {rng.getrandbits(64):016x}\n" for n in range(60_000))
    content = (X86_OOPS + filler).encode()
    token = Token.objects.create(user=customer).key
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Token {token}"}
    with Broker(tmp_path) as broker, Worker(broker):
        created = requests.post(
            f"{live_server.url}/api/cases/{case.number}/uploads/tus/",
            headers={
                **headers,
                "Upload-Length": str(len(content)),
                "Upload-Metadata": "filename " + base64.b64encode(b"dmesg.txt").decode(),
            },
            timeout=10,
        )
        assert created.status_code == 201
        url = created.headers["Location"]
        cuts = sorted(rng.sample(range(1, len(content)), CUTS))
        offset = 0
        for cut in cuts:
            _cut_patch(url, token, offset, content[offset:], cut - offset)
            # Without a checksum the server keeps every byte that arrived (tus: store as much as possible).
            offset = _server_offset(url, headers, cut)
            assert offset == cut
        last = requests.patch(
            url,
            data=content[offset:],
            headers={
                **headers,
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(offset),
            },
            timeout=30,
        )
        assert last.status_code == 204
        upload = Upload.objects.get()
        assert upload.state in (Upload.State.STORED, Upload.State.ANALYSED)
        assert upload.sha256 == hashlib.sha256(content).hexdigest()
        jobs = list(AnalysisJob.objects.filter(upload=upload))
        assert len(jobs) == 1
        wait_for(lambda: _finished(jobs), 60, "the upload's analysis job")
    _assert_done_exactly_once(jobs)
    print(f"\n{CUTS} cuts resumed; stored {len(content):,} bytes with the right SHA-256; job done once")


# -- Redis restarted ---------------------------------------------------------------------------------------------


class OwnRedis:
    """A redis-server of this test on a spare port in a temporary folder; never the shared one."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        # No persistence: a restart loses every queued message, the worst case the reconciler must cover.
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for(self._answers, 20, "our redis-server")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def own_redis(settings, tmp_path):
    if not settings.REDIS_URL:
        pytest.skip("REDIS_URL is not set: the suite runs on the embedded broker")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    redis = OwnRedis(tmp_path)
    redis.start()
    settings.REDIS_URL = redis.url
    try:
        yield redis
    finally:
        redis.kill()


def test_redis_restarted_empty_while_jobs_are_queued_loses_no_job(own_redis, settings, case, tmp_path):
    content = sample(KERNEL_DUMP).read_bytes()
    with Broker(tmp_path) as broker:
        uploads = [store_upload(case=case, content=content, filename=f"Mini-{n}.dmp") for n in range(3)]
        jobs = [
            services.job_queue_for_upload(upload=upload) for upload in uploads
        ]  # published, no worker yet
        restarted_at = time.monotonic()
        own_redis.kill()
        own_redis.start()  # empty: the three messages are gone
        with Worker(broker, extra_env={"PIPELINE_TEST_SAMPLE": str(sample(KERNEL_DUMP))}):

            def recovered() -> bool:
                # What beat runs every minute; the clock is moved past the two-minute grace.
                services.jobs_reconcile(now=timezone.now() + timedelta(minutes=3))
                return _finished(jobs)

            wait_for(recovered, 60, "the queued jobs after the Redis restart", every=2)
        took = time.monotonic() - restarted_at
    _assert_done_exactly_once(jobs)
    print(f"\nRedis restarted empty with 3 jobs queued: 3/3 done once, {took:.1f} s after the restart")


# -- PostgreSQL connections dropped ---------------------------------------------------------------------------


def test_postgres_connection_terminated_during_a_job_is_retried_and_done_once(case, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("DATABASE_URL is not PostgreSQL")
    upload = store_upload(case=case, content=SLOW_MARKER + b"\n", filename="slow.dmp")
    with Broker(tmp_path) as broker:
        worker = Worker(
            broker,
            extra_env={"PIPELINE_TEST_SAMPLE": str(sample(KERNEL_DUMP)), "PIPELINE_TEST_SLOW_SECONDS": "3"},
        )
        with worker:
            job = services.job_queue_for_upload(upload=upload)
            wait_for(lambda: AnalysisJob.objects.filter(pk=job.pk, state="running").exists(), 30, "the job")
            time.sleep(0.5)  # the worker is inside the parse, holding its connection
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                terminated = len(cursor.fetchall())
            assert terminated >= 1, "the worker held no connection to terminate"
            wait_for(lambda: _finished([job]), 60, "the job after its connection was dropped")
            assert worker.alive()
    _assert_done_exactly_once([job])
    print(f"\nPostgreSQL: {terminated} worker connections terminated mid-job; job done once")
