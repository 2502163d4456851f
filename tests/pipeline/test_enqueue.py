"""Enqueueing: the job row is created in the caller's transaction, the task is published only after commit."""

from __future__ import annotations

from unittest import mock

from analysis import queueing
from analysis.models import AnalysisJob


def test_job_is_queued_and_task_published_after_commit(make_upload, django_capture_on_commit_callbacks):
    upload = make_upload()
    with mock.patch("analysis.tasks.analyse_upload.apply_async") as apply_async:
        with django_capture_on_commit_callbacks() as callbacks:
            job = queueing.job_queue_for_upload(upload=upload)
            assert apply_async.call_count == 0
        assert job.state == AnalysisJob.State.QUEUED
        assert len(callbacks) == 1
        callbacks[0]()
    apply_async.assert_called_once()
    kwargs = apply_async.call_args.kwargs
    assert kwargs["args"] == [job.pk]
    assert kwargs["task_id"].startswith("outbox-")  # published by the outbox, followed to its end
    assert kwargs["time_limit"] == kwargs["soft_time_limit"] + 30
    assert job.time_limit == kwargs["time_limit"]


def test_queueing_twice_reuses_the_pending_job(make_upload, django_capture_on_commit_callbacks):
    upload = make_upload()
    with django_capture_on_commit_callbacks() as callbacks:
        first = queueing.job_queue_for_upload(upload=upload)
        second = queueing.job_queue_for_upload(upload=upload)
    assert first.pk == second.pk
    assert len(callbacks) == 1
    assert AnalysisJob.objects.filter(upload=upload).count() == 1


def test_time_limits_scale_with_size_and_stay_under_the_cap(settings):
    settings.ANALYSIS_SOFT_TIME_LIMIT_BASE = 60
    settings.ANALYSIS_SOFT_TIME_LIMIT_PER_GB = 60
    settings.CELERY_TASK_TIME_LIMIT = 900
    assert queueing.job_time_limits(size=0) == (60, 90)
    assert queueing.job_time_limits(size=2 * 1024**3) == (180, 210)
    assert queueing.job_time_limits(size=64 * 1024**3) == (870, 900)
