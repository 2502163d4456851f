"""The pipeline's services and task, called directly: idempotence, case-level findings, bad input, poison."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.core.files import File
from django.core.files.storage import storages
from django.utils import timezone

from analysis import queueing, reconcile, services, tasks
from analysis.case_findings import _crash_from_json, _event_from_row, case_findings_recompute
from analysis.models import AnalysisJob, Crash, CrashDriver, Finding, LogEvent
from analysis.rules import case_findings
from cases.errors import InvalidState, NotAllowed
from uploads.models import Upload

pytestmark = pytest.mark.django_db


def _queue(upload: Upload) -> AnalysisJob:
    with mock.patch("analysis.queueing.job_publish"):
        return queueing.job_queue_for_upload(upload=upload)


def _run(upload: Upload) -> AnalysisJob:
    job = _queue(upload)
    tasks.analyse_upload(job.pk)
    job.refresh_from_db()
    return job


def _rows(upload: Upload) -> tuple[list, list, list]:
    crashes = list(Crash.objects.filter(upload=upload).values_list("index", "code", "signature_module"))
    findings = list(Finding.objects.filter(upload=upload).values_list("seq", "code", "title"))
    case_level = list(
        Finding.objects.filter(case=upload.case, upload__isnull=True).values_list("seq", "code", "title")
    )
    return crashes, findings, case_level


def test_kernel_dump_gives_crash_findings_and_analysed_upload(kernel_dump_upload):
    job = _run(kernel_dump_upload)
    assert job.state == AnalysisJob.State.DONE
    assert job.attempts == 1
    assert job.detected_kind == "kernel_dump"
    assert job.engine_version
    crash = Crash.objects.get(upload=kernel_dump_upload)
    assert crash.code == "0x1000007e"
    assert crash.name == "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"
    assert crash.crash_time is not None and crash.crash_time.year == 2021
    assert crash.case_id == kernel_dump_upload.case_id
    assert crash.signature_coarse == "0x7E"
    assert crash.third_party_drivers
    assert CrashDriver.objects.filter(crash=crash).count() == len(crash.third_party_drivers)
    assert Finding.objects.filter(upload=kernel_dump_upload).exists()
    assert Finding.objects.filter(upload=kernel_dump_upload, crashes=crash).exists()
    kernel_dump_upload.refresh_from_db()
    assert kernel_dump_upload.state == Upload.State.ANALYSED


def test_rerun_replaces_rows_instead_of_duplicating(kernel_dump_upload, engineer):
    _run(kernel_dump_upload)
    before = _rows(kernel_dump_upload)
    drivers = CrashDriver.objects.count()
    with mock.patch("analysis.queueing.job_publish"):
        job = queueing.job_rerun(actor=engineer, upload=kernel_dump_upload)
    tasks.analyse_upload(job.pk)
    assert _rows(kernel_dump_upload) == before
    assert CrashDriver.objects.count() == drivers
    assert AnalysisJob.objects.filter(upload=kernel_dump_upload).count() == 2
    assert kernel_dump_upload.case.audit_events.filter(action="analysis_rerun").exists()


def test_duplicate_delivery_of_a_finished_job_changes_nothing(kernel_dump_upload):
    job = _run(kernel_dump_upload)
    before = _rows(kernel_dump_upload)
    assert tasks.analyse_upload(job.pk) == "skipped"
    assert _rows(kernel_dump_upload) == before


def test_rerun_is_for_engineers_only(kernel_dump_upload, customer, account_manager):
    for actor in (customer, account_manager):
        with pytest.raises(NotAllowed):
            queueing.job_rerun(actor=actor, upload=kernel_dump_upload)


@pytest.mark.parametrize("scan", ["pending", "infected"])
def test_rerun_refuses_a_file_held_by_the_virus_scan(kernel_dump_upload, engineer, scan):
    Upload.objects.filter(pk=kernel_dump_upload.pk).update(scan=scan)
    kernel_dump_upload.refresh_from_db()
    with pytest.raises(InvalidState):
        queueing.job_rerun(actor=engineer, upload=kernel_dump_upload)
    assert not AnalysisJob.objects.filter(upload=kernel_dump_upload).exists()


def test_case_level_findings_are_recomputed_across_uploads(kernel_dump_upload, system_log_upload):
    _run(kernel_dump_upload)
    _run(system_log_upload)
    case = kernel_dump_upload.case
    assert LogEvent.objects.filter(upload=system_log_upload).exists()
    case_level = Finding.objects.filter(case=case, upload__isnull=True)
    crashes = [
        _crash_from_json(c.raw) for c in Crash.objects.filter(case=case).order_by("upload__created_at")
    ]
    events = [_event_from_row(e) for e in LogEvent.objects.filter(case=case)]
    expected = [f.code for f in case_findings(crashes, events)]
    assert [f.code for f in case_level] == expected
    # Recomputing again gives the same rows.
    case_findings_recompute(case=case)
    assert [f.code for f in Finding.objects.filter(case=case, upload__isnull=True)] == expected


def test_corrupt_file_ends_with_an_error_finding(make_upload):
    upload = make_upload(content=b"MDMP\x93\xa7" + b"\x00" * 10, filename="broken.dmp")
    job = _run(upload)
    assert job.state == AnalysisJob.State.DONE
    assert job.error
    finding = Finding.objects.get(upload=upload, code="parse_error")
    assert "broken.dmp" in finding.detail
    upload.refresh_from_db()
    assert upload.state == Upload.State.FAILED


def test_unsupported_type_is_done_with_a_not_analysed_finding(make_upload):
    upload = make_upload(content=b"\x00\x01\x02 holiday photo bytes \xff\xfe" * 10, filename="photo.jpg")
    Upload.objects.filter(pk=upload.pk).update(kind=Upload.Kind.OTHER)
    upload.refresh_from_db()
    job = _run(upload)
    assert job.state == AnalysisJob.State.DONE
    assert job.detected_kind == "unknown"
    finding = Finding.objects.get(upload=upload, code="unsupported_type")
    assert finding.title.startswith("Not analysed: unsupported type")
    assert "other" in finding.title
    upload.refresh_from_db()
    assert upload.state == Upload.State.ANALYSED


def test_poison_file_is_failed_after_max_attempts(kernel_dump_upload, settings):
    settings.ANALYSIS_MAX_ATTEMPTS = 3
    job = _queue(kernel_dump_upload)
    # Three deliveries of the same message start and die (the worker was killed: nothing recorded).
    for attempt in range(1, 4):
        claim = services.job_start(job_id=job.pk, task_id="message-1", worker="w1")
        assert claim is not None and claim.job.attempts == attempt
    # The fourth delivery does not run the parser again: the job fails with the reason.
    with mock.patch("analysis.tasks._parse") as parse:
        assert tasks.analyse_upload.apply(args=[job.pk], task_id="message-1").get() == "skipped"
    parse.assert_not_called()
    job.refresh_from_db()
    assert job.state == AnalysisJob.State.FAILED
    assert "3 attempts" in job.error
    assert Finding.objects.filter(upload=kernel_dump_upload, code="analysis_failed").exists()
    kernel_dump_upload.refresh_from_db()
    assert kernel_dump_upload.state == Upload.State.FAILED


def test_a_duplicate_message_does_not_take_over_a_running_job(kernel_dump_upload):
    job = _queue(kernel_dump_upload)
    assert services.job_start(job_id=job.pk, task_id="message-1", worker="w1") is not None
    assert services.job_start(job_id=job.pk, task_id="message-2", worker="w2") is None
    job.refresh_from_db()
    assert (job.state, job.attempts, job.worker) == (AnalysisJob.State.RUNNING, 1, "w1")


def test_transient_storage_error_is_retried_then_succeeds(kernel_dump_upload):
    job = _queue(kernel_dump_upload)
    real_path = storages["uploads"].path(kernel_dump_upload.storage_name)
    calls = {"n": 0}

    def flaky_path(name):
        raise NotImplementedError  # behave like S3: no local path, copy through open()

    def flaky_open(name, mode="rb"):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("storage unreachable")
        return File(open(real_path, mode))  # noqa: SIM115 (closed by the code under test)

    with (
        mock.patch.object(storages["uploads"], "path", flaky_path),
        mock.patch.object(storages["uploads"], "open", flaky_open),
        mock.patch("analysis.tasks.retry_delay", return_value=0),
    ):
        tasks.analyse_upload.apply(args=[job.pk], task_id="message-1")
    job.refresh_from_db()
    assert job.state == AnalysisJob.State.DONE
    assert job.attempts == 1  # the transient failure gave its attempt back
    assert calls["n"] == 2
    assert Crash.objects.filter(upload=kernel_dump_upload).count() == 1


def test_missing_file_fails_without_retry(make_upload):
    upload = make_upload(content=b"whatever")
    storages["uploads"].delete(upload.storage_name)
    job = _run(upload)
    assert job.state == AnalysisJob.State.FAILED
    assert "missing" in job.error


def test_soft_time_limit_fails_the_job_with_the_limit(kernel_dump_upload):

    job = _queue(kernel_dump_upload)
    with mock.patch("analysis.tasks._parse", side_effect=SoftTimeLimitExceeded()):
        tasks.analyse_upload(job.pk)
    job.refresh_from_db()
    assert job.state == AnalysisJob.State.FAILED
    assert "longer than its limit" in job.error


def test_reconciler_publishes_lost_and_expired_jobs(make_upload):

    now = timezone.now()
    lost = _queue(make_upload(filename="a.bin"))
    fresh = _queue(make_upload(filename="b.bin"))
    expired = _queue(make_upload(filename="c.bin"))
    running = _queue(make_upload(filename="d.bin"))
    AnalysisJob.objects.filter(pk=lost.pk).update(queued_at=now - timedelta(minutes=3), published_at=None)
    AnalysisJob.objects.filter(pk=expired.pk).update(
        state="running", lease_expires_at=now - timedelta(seconds=1), started_at=now - timedelta(minutes=5)
    )
    AnalysisJob.objects.filter(pk=running.pk).update(
        state="running", lease_expires_at=now + timedelta(minutes=1)
    )
    orphan = _queue(make_upload(filename="e.bin"))
    AnalysisJob.objects.filter(pk=orphan.pk).update(
        state="running",
        task_id="dead",
        lease_expires_at=now + timedelta(minutes=1),
        started_at=now - timedelta(minutes=1),
    )
    AnalysisJob.objects.filter(pk=running.pk).update(task_id="alive", started_at=now - timedelta(minutes=1))
    with (
        mock.patch("analysis.tasks.analyse_upload.apply_async") as apply_async,
        mock.patch("analysis.reconcile.live_task_ids", return_value={"alive"}),
    ):
        published = reconcile.jobs_reconcile(now=now)
    assert sorted(published) == sorted([lost.pk, expired.pk, orphan.pk])
    assert fresh.pk not in published and running.pk not in published
    assert apply_async.call_count == 3
    # A published job is not published again at the next run (the expired ones are, until taken).
    with (
        mock.patch("analysis.tasks.analyse_upload.apply_async"),
        mock.patch("analysis.reconcile.live_task_ids", return_value=None),
    ):
        assert sorted(reconcile.jobs_reconcile(now=now + timedelta(seconds=60))) == sorted(
            [expired.pk, orphan.pk]
        )


def test_case_level_findings_wait_for_the_last_pending_job_of_the_case(kernel_dump_upload, system_log_upload):
    first = _queue(kernel_dump_upload)
    second = _queue(system_log_upload)
    tasks.analyse_upload(first.pk)
    case = kernel_dump_upload.case
    # Per-upload findings are there at once; the cross-crash pass waits for the other queued job.
    assert Finding.objects.filter(upload=kernel_dump_upload).exists()
    assert not Finding.objects.filter(case=case, upload__isnull=True).exists()
    tasks.analyse_upload(second.pk)
    assert Finding.objects.filter(case=case, upload__isnull=True).exists()
