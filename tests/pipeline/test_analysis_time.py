"""The analysis panel's "Time": how long each job really ran (most files take under a second, which whole
seconds showed as 0:00)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import translation

from analysis.formatting import duration
from analysis.models import AnalysisJob
from analysis.queueing import job_queue_for_upload

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, ""),
        (0.0004, "0 ms"),
        (0.24, "240 ms"),
        (4.25, "4.2 s"),
        (59.96, "1:00"),
        (65, "1:05"),
        (3725, "1:02:05"),
    ],
)
def test_analysis_time_shows_the_real_duration(seconds, shown):
    assert duration(seconds) == shown


def test_the_analysis_panel_shows_how_long_a_sub_second_job_took(make_upload, customer, case):

    job = job_queue_for_upload(upload=make_upload(content=b"quick"))
    AnalysisJob.objects.filter(pk=job.pk).update(
        state=AnalysisJob.State.DONE,
        started_at=job.queued_at,
        finished_at=job.queued_at + timedelta(milliseconds=420),
    )
    browser = Client()
    browser.force_login(customer)
    status = browser.get(f"/cases/{case.number}/analysis/status/").json()["uploads"][0]
    assert status["elapsed_text"] == "420 ms"
    assert "420 ms" in browser.get(f"/cases/{case.number}/analysis/panel/").content.decode()


def test_the_time_is_worded_in_the_readers_language():

    with translation.override("zh-hans"):
        assert (duration(0.24), duration(4.25), duration(65)) == ("240 毫秒", "4.2 秒", "1:05")
