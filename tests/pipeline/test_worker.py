"""End to end with a real Celery worker subprocess (Redis when REDIS_URL is set, the embedded broker
otherwise): a real dump uploaded through tus ends analysed on the case; faults lose nothing."""

from __future__ import annotations

import base64
import time

import pytest
from django.conf import settings
from django.urls import reverse

from analysis import queueing, reconcile
from analysis.models import AnalysisJob, Crash, Finding
from tests.pipeline.conftest import KERNEL_DUMP, store_upload
from tests.pipeline.realworker import Broker, Worker, wait_for
from tests.pipeline.worker_app import KILL_MARKER, SLOW_MARKER
from tests.samples import sample_path
from uploads.models import Upload

pytestmark = [pytest.mark.worker, pytest.mark.samples, pytest.mark.django_db(transaction=True)]

SLOW_SECONDS = 3


@pytest.fixture
def broker(tmp_path):
    # tmp_path is also where the autouse fixture puts the uploads storage: the worker gets it as its
    # PORTAL_VAR_DIR, so both processes read and write the same files.
    with Broker(tmp_path) as shared:
        yield shared


def _worker(broker: Broker, concurrency: int = 1) -> Worker:
    return Worker(
        broker,
        concurrency=concurrency,
        extra_env={
            "PIPELINE_TEST_SAMPLE": str(sample_path(KERNEL_DUMP)),
            "PIPELINE_TEST_SLOW_SECONDS": str(SLOW_SECONDS),
        },
    )


def _finished(*jobs: AnalysisJob) -> bool:
    states = AnalysisJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state", flat=True)
    return all(state in ("done", "failed") for state in states)


def _snapshot(case) -> list[tuple]:
    crashes = sorted(
        Crash.objects.filter(case=case).values_list("upload_id", "index", "code", "signature_module")
    )
    findings = sorted(Finding.objects.filter(case=case).values_list("upload_id", "seq", "code"), key=str)
    return [*crashes, *findings]


def _tus_upload(client, case, content: bytes, filename: str) -> Upload:
    """Upload through the tus endpoints, as a customer's script would."""
    name = base64.b64encode(filename.encode()).decode()
    created = client.post(
        reverse("api:upload_tus", args=[case.number]),
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_LENGTH=str(len(content)),
        HTTP_UPLOAD_METADATA=f"filename {name}",
    )
    assert created.status_code == 201, created.content
    location = created["Location"]
    patched = client.generic(
        "PATCH",
        location,
        content,
        content_type="application/offset+octet-stream",
        HTTP_TUS_RESUMABLE="1.0.0",
        HTTP_UPLOAD_OFFSET="0",
    )
    assert patched.status_code == 204, patched.content
    return Upload.objects.get(case=case, filename=filename)


def test_dump_uploaded_through_tus_is_analysed_and_rerun_gives_the_same_rows(
    broker, client, customer, engineer, case, samples
):
    content = samples(KERNEL_DUMP).read_bytes()
    with _worker(broker):
        client.force_login(customer)
        upload = _tus_upload(client, case, content, "Mini022121-01.dmp")
        job = AnalysisJob.objects.get(upload=upload)
        took = wait_for(lambda: _finished(job), 60, "the analysis job")
        job.refresh_from_db()
        assert job.state == "done", job.error
        assert job.worker.startswith("pipeline-")
        crash = Crash.objects.get(upload=upload)
        assert crash.code == "0x1000007e"
        assert Finding.objects.filter(case=case, upload=upload).exists()
        assert Finding.objects.filter(case=case, upload__isnull=True).exists()
        upload.refresh_from_db()
        assert upload.state == "analysed"
        first = _snapshot(case)

        rerun = queueing.job_rerun(actor=engineer, upload=upload)
        wait_for(lambda: _finished(rerun), 60, "the re-run")
        assert _snapshot(case) == first
    print(f"\nupload stored -> findings visible: {took:.2f} s (real worker)")


def test_poison_file_fails_after_three_attempts_and_the_worker_survives(broker, case, customer, samples):
    poison = store_upload(case=case, content=KILL_MARKER + b"\x00" * 64, filename="poison.dmp")
    good = store_upload(case=case, content=samples(KERNEL_DUMP).read_bytes(), filename="good.dmp")
    with _worker(broker) as worker:
        bad_job = queueing.job_queue_for_upload(upload=poison)
        wait_for(lambda: _finished(bad_job), 90, "the poison job to fail")
        good_job = queueing.job_queue_for_upload(upload=good)
        wait_for(lambda: _finished(good_job), 60, "the next job")
        assert worker.alive()
    bad_job.refresh_from_db()
    good_job.refresh_from_db()
    assert bad_job.state == "failed"
    assert bad_job.attempts == 3
    assert "3 attempts" in bad_job.error
    assert Finding.objects.filter(upload=poison, code="analysis_failed").count() == 1
    assert good_job.state == "done"


def _slow_jobs(case, count: int) -> list[AnalysisJob]:
    uploads = [
        store_upload(case=case, content=SLOW_MARKER + b"\n", filename=f"slow-{i}.dmp") for i in range(count)
    ]
    return [queueing.job_queue_for_upload(upload=upload) for upload in uploads]


def _assert_each_completed_once(jobs: list[AnalysisJob]) -> None:
    per_upload = [Finding.objects.filter(upload_id=job.upload_id).count() for job in jobs]
    for job in jobs:
        job.refresh_from_db()
        assert job.state == "done", (job.pk, job.state, job.error)
        assert Crash.objects.filter(upload_id=job.upload_id).count() == 1
    assert len(set(per_upload)) == 1 and per_upload[0] > 0  # same findings for the same file, no duplicates


def _running(jobs: list[AnalysisJob]) -> AnalysisJob | None:
    return AnalysisJob.objects.filter(pk__in=[j.pk for j in jobs], state="running").first()


def test_pool_process_killed_mid_job_loses_nothing(broker, case):
    jobs = _slow_jobs(case, 3)
    with _worker(broker) as worker:
        wait_for(lambda: _running(jobs), 30, "a running job")
        victim = _running(jobs)
        time.sleep(1)
        killed_at = time.monotonic()
        worker.kill_pool_process()
        wait_for(lambda: _finished(*jobs), 90, "every job after the kill")
        victim.refresh_from_db()
        recovery = time.monotonic() - killed_at
        assert worker.alive()
    _assert_each_completed_once(jobs)
    assert victim.attempts == 2
    print(
        f"\npool process SIGKILL: {len(jobs)}/{len(jobs)} done, killed job redone; all done {recovery:.1f} s after"
    )


def test_whole_worker_killed_mid_job_loses_nothing_after_restart(broker, case):
    jobs = _slow_jobs(case, 3)
    worker = _worker(broker).start()
    try:
        wait_for(lambda: _running(jobs), 30, "a running job")
        victim = _running(jobs)
        time.sleep(1)
        killed_at = time.monotonic()
        worker.kill_all()
        time.sleep(1)
        replaced_at = time.monotonic()
        worker = _worker(broker).start()

        def recovered() -> bool:
            # What beat does every ANALYSIS_RECONCILE_INTERVAL (10 s): the reconciler finds the orphaned job.
            reconcile.jobs_reconcile()
            return _finished(*jobs)

        wait_for(recovered, 60, "every job after the restart", every=settings.ANALYSIS_RECONCILE_INTERVAL)
        recovery = time.monotonic() - killed_at
        after_replacement = time.monotonic() - replaced_at
    finally:
        worker.stop()
    _assert_each_completed_once(jobs)
    victim.refresh_from_db()
    assert victim.attempts == 2
    # Issue 14: within 30 s of the replacement starting (76 s measured with a 60 s reconciler).
    assert after_replacement <= 30, after_replacement
    print(
        f"\nwhole worker SIGKILL + restart: {len(jobs)}/{len(jobs)} done, {recovery:.1f} s after the kill, "
        f"{after_replacement:.1f} s after the replacement started"
    )
