"""Several hosts, simulated: two web processes and two workers, each with its own spool and working folder,
sharing PostgreSQL, Redis and a bucket (moto's S3 server in its own process). A tus upload whose chunks
alternate between the web hosts completes with the right SHA-256; jobs are taken by either worker,
each exactly once; the request id of the last chunk reaches the worker's JSON log; and a 2 GiB upload
streams through a web process in parts with its memory flat."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.authtoken.models import Token

from analysis.models import AnalysisJob
from cases.models import AuditEvent
from tests.analysis.dump_fixtures import KernelDump
from tests.pipeline.realworker import Broker, Worker
from tests.pipeline.worker_app import SLOW_MARKER
from tests.storage.hosts import (
    METRICS_TOKEN,
    PeakRss,
    WebHost,
    host_env,
    spool_files,
    start_worker,
    wait_until,
)
from tests.storage.moto_server import MotoServer
from uploads.models import Upload

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _shared_services_only():
    if not settings.REDIS_URL or connection.vendor != "postgresql":
        pytest.skip("several hosts share PostgreSQL and Redis: set DATABASE_URL (PostgreSQL) and REDIS_URL")


@dataclass
class Cluster:
    moto: MotoServer
    bucket: str
    webs: list[WebHost]
    workers: list[Worker]
    folders: dict[str, Path]


@pytest.fixture
def moto_process():
    server = MotoServer(own_process=True).start()
    yield server
    server.stop()


def _cluster(tmp_path: Path, moto: MotoServer, *, webs: int, workers: int, web_workers: int = 1):
    bucket = f"portal-{uuid.uuid4().hex[:10]}"
    moto.client().create_bucket(Bucket=bucket)
    sample = KernelDump(dump_type=4).write(tmp_path / "sample.dmp")
    folders: dict[str, Path] = {}
    started_webs: list[WebHost] = []
    started_workers: list[Worker] = []
    (tmp_path / "broker").mkdir(exist_ok=True)
    with Broker(tmp_path / "broker") as broker:
        try:
            for index in range(webs):
                name = f"web-{'ab'[index]}"
                folders[name] = tmp_path / name
                env = host_env(broker=broker, folder=folders[name], endpoint=moto.endpoint, bucket=bucket)
                started_webs.append(WebHost(name, env, workers=web_workers).start())
            for index in range(workers):
                name = f"worker-{index + 1}"
                folders[name] = tmp_path / name
                extra = {"PIPELINE_TEST_SAMPLE": str(sample), "PIPELINE_TEST_SLOW_SECONDS": "1"}
                env = host_env(
                    broker=broker, folder=folders[name], endpoint=moto.endpoint, bucket=bucket, extra=extra
                )
                started_workers.append(start_worker(broker, env))
            yield Cluster(moto, bucket, started_webs, started_workers, folders)
        finally:
            for worker in started_workers:
                worker.stop()
            for web in started_webs:
                web.stop()


@pytest.fixture
def cluster(tmp_path, moto_process):
    # Two gunicorn workers per web host: their metrics are summed through the multiprocess files.
    yield from _cluster(tmp_path, moto_process, webs=2, workers=2, web_workers=2)


def _headers(token: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0", **extra}


def _create(web: WebHost, case, token: str, size: int, name: str = "upload.bin") -> str:

    response = requests.post(
        f"{web.url}/api/cases/{case.number}/uploads/tus/",
        headers=_headers(
            token,
            **{
                "Upload-Length": str(size),
                "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode(),
            },
        ),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def _patch(web: WebHost, location: str, token: str, offset: int, body: bytes, request_id: str = "") -> int:
    length = len(body)
    headers = _headers(
        token,
        **{
            "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream",
            "Content-Length": str(length),
        },
    )
    if request_id:
        headers["X-Request-ID"] = request_id
    path = location.split("://", 1)[1].split("/", 1)[1]
    response = requests.patch(f"{web.url}/{path}", data=body, headers=headers, timeout=300)
    assert response.status_code == 204, response.text
    return int(response.headers["Upload-Offset"])


@pytest.fixture
def token(customer) -> str:
    return Token.objects.create(user=customer).key


def _finished(upload_id) -> bool:
    upload = Upload.objects.get(pk=upload_id)
    job = AnalysisJob.objects.filter(upload=upload).first()
    return job is not None and job.state in {AnalysisJob.State.DONE, AnalysisJob.State.FAILED}


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def test_chunks_alternating_between_two_web_hosts_complete_with_the_right_sha256(cluster, case, token):
    data = os.urandom(22 * MiB + 7)
    web_a, web_b = cluster.webs
    location = _create(web_a, case, token, len(data))
    request_id = str(uuid.uuid4())
    offset, turn, sent_to_b = 0, 0, 0
    while offset < len(data):
        web = cluster.webs[turn % 2]
        piece = data[offset : offset + 4 * MiB]  # 4 MiB chunks in 5 MiB parts: tails cross hosts too
        last = offset + len(piece) == len(data)
        offset = _patch(web, location, token, offset, piece, request_id if last else "")
        sent_to_b += len(piece) if web is web_b else 0
        turn += 1
        # Nothing of the upload stays on a web host between requests.
        assert spool_files(cluster.folders["web-a"]) == spool_files(cluster.folders["web-b"]) == []
    upload = Upload.objects.get()
    wait_until(lambda: _finished(upload.pk), 300, "the upload's completion and analysis on a worker")

    upload.refresh_from_db()
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    stored = cluster.moto.client().get_object(Bucket=cluster.bucket, Key=upload.storage_name)["Body"].read()
    assert hashlib.sha256(stored).hexdigest() == upload.sha256
    job = AnalysisJob.objects.get(upload=upload)
    assert (job.state, job.attempts) == (AnalysisJob.State.DONE, 1)
    assert AuditEvent.objects.filter(action="upload_stored").count() == 1
    assert AuditEvent.objects.filter(action="analysis_done").count() == 1

    # The request id of the last chunk is in the log of the worker that analysed the file (JSON lines).
    worker_logs = [line for worker in cluster.workers for line in _json_lines(worker.log)]
    mine = [line for line in worker_logs if line.get("request_id") == request_id.replace("-", "")]
    mine += [line for line in worker_logs if line.get("request_id") == request_id]
    assert any(line["message"].startswith(f"analysis job {job.pk} done") for line in mine), worker_logs[-5:]

    # Each web host counts the bytes it took (per-process metrics; the site figures are the same on both).
    metrics = requests.get(
        f"{web_b.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30
    )
    assert metrics.status_code == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
    }
    assert samples[("portal_upload_bytes_received_total", (("storage", "bucket"),))] == sent_to_b
    done = ("portal_analysis_job_duration_seconds_count", (("kind", "unknown"), ("outcome", "done")))
    assert samples[done] == 1


def test_jobs_are_taken_by_either_worker_exactly_once(cluster, case, token):
    count = 6
    for index in range(count):
        web = cluster.webs[index % 2]
        body = SLOW_MARKER + f" file {index}".encode()  # the worker sleeps 1 s, then parses a real dump
        location = _create(web, case, token, len(body), name=f"dump-{index}.dmp")
        _patch(web, location, token, 0, body)
    wait_until(
        lambda: AnalysisJob.objects.filter(state=AnalysisJob.State.DONE).count() == count,
        400,  # six 1 s jobs; generous for a machine shared with other test runs
        f"{count} jobs done",
    )
    jobs = list(AnalysisJob.objects.all())
    assert len(jobs) == count and all(job.attempts == 1 for job in jobs)
    assert AuditEvent.objects.filter(action="analysis_done").count() == count
    names = {worker.name.split("@")[0] for worker in cluster.workers}
    took = {job.worker.split("@")[0] for job in jobs}
    assert took == names, f"jobs per worker: {[job.worker for job in jobs]}"


def _repeated(block: bytes, start: int, length: int) -> bytes:
    """``length`` bytes of ``block`` repeated, from position ``start`` of the endless repetition."""
    out = bytearray()
    while len(out) < length:
        at = (start + len(out)) % len(block)
        out += block[at : at + length - len(out)]
    return bytes(out)


def test_a_2_gib_upload_streams_to_the_bucket_in_parts_with_the_web_process_memory_flat(
    tmp_path, moto_process, case, token
):
    size, chunk = 2 * 1024 * MiB, 64 * MiB
    block = os.urandom(8 * MiB + 13)  # not a divisor of the part size: no two parts are the same bytes
    gen = _cluster(tmp_path, moto_process, webs=1, workers=1)
    cluster = next(gen)
    try:
        web = cluster.webs[0]
        location = _create(web, case, token, size, name="MEMORY.DMP")
        digest = hashlib.sha256()
        started = time.monotonic()
        with PeakRss(web.worker_pids()) as rss:
            baseline = max(p.memory_info().rss for p in rss.processes)
            offset = 0
            while offset < size:
                piece = _repeated(block, offset, min(chunk, size - offset))
                digest.update(piece)
                offset = _patch(web, location, token, offset, piece)
                del piece
        seconds = time.monotonic() - started
        growth = (rss.peak - baseline) / MiB
        print(f"\n2 GiB to the bucket through one web process: {size / MiB / seconds:.0f} MiB/s, "
              f"web process RSS {baseline / MiB:.0f} MiB -> peak {rss.peak / MiB:.0f} MiB (+{growth:.0f})")  # fmt: skip
        assert growth < 96, f"the web process grew by {growth:.0f} MiB"
        upload = Upload.objects.get()
        wait_until(
            lambda: Upload.objects.get(pk=upload.pk).state != Upload.State.RECEIVING, 600, "completion"
        )
        upload.refresh_from_db()
        assert upload.sha256 == digest.hexdigest()
        head = cluster.moto.client().head_object(Bucket=cluster.bucket, Key=upload.storage_name)
        assert head["ContentLength"] == size
        whole = hashlib.sha256()
        for part in (
            cluster.moto.client()
            .get_object(Bucket=cluster.bucket, Key=upload.storage_name)["Body"]
            .iter_chunks(8 * MiB)
        ):
            whole.update(part)
        assert whole.hexdigest() == digest.hexdigest()  # the bucket holds exactly the bytes sent
    finally:
        gen.close()
