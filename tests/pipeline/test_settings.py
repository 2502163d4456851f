"""The Celery reliability settings the pipeline relies on (research/reliability.md section 2)."""

from __future__ import annotations

from django.conf import settings

from analysis.queueing import job_time_limits
from config.celery import app


def test_visibility_timeout_is_at_least_twice_the_largest_time_limit():
    largest = max(settings.CELERY_TASK_TIME_LIMIT, job_time_limits(size=settings.UPLOAD_MAX_SIZE)[1])
    assert 2 * largest <= settings.CELERY_VISIBILITY_TIMEOUT
    if settings.REDIS_URL:
        assert app.conf.broker_transport_options["visibility_timeout"] == settings.CELERY_VISIBILITY_TIMEOUT


def test_late_ack_reject_on_worker_lost_and_prefetch_one():
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1


def test_per_job_limits_stay_under_the_global_hard_limit():
    for size in (0, 1024**3, settings.UPLOAD_MAX_SIZE, 10 * settings.UPLOAD_MAX_SIZE):
        soft, hard = job_time_limits(size=size)
        assert soft < hard <= settings.CELERY_TASK_TIME_LIMIT


def test_analysis_tasks_go_to_their_own_queue_and_the_reconciler_is_scheduled():
    route = app.amqp.router.route({}, "analysis.tasks.analyse_upload")
    assert route["queue"].name == "analysis"
    schedule = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["analysis.tasks.jobs_reconcile"] <= 60


def test_whole_worker_crash_is_restored_within_a_minute_on_redis():
    if not settings.REDIS_URL:
        return  # the embedded broker has no restore sweep: the reconciler covers it (see docs/pipeline.md)
    options = app.conf.broker_transport_options
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] <= 30


def test_no_eager_mode():
    assert not app.conf.task_always_eager
