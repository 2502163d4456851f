"""The case page's analysis panel, its live-status endpoint and the re-run action, per role."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from analysis import queueing, tasks
from analysis.models import AnalysisJob, Crash
from cases import services as case_services
from tests.pipeline.conftest import KERNEL_DUMP, store_upload

pytestmark = pytest.mark.django_db


def _analyse(upload):
    with mock.patch("analysis.queueing.job_publish"):
        job = queueing.job_queue_for_upload(upload=upload)
    tasks.analyse_upload(job.pk)
    return job


@pytest.fixture
def analysed_case(case, kernel_dump_upload, make_upload):
    _analyse(kernel_dump_upload)
    with mock.patch("analysis.queueing.job_publish"):
        queueing.job_queue_for_upload(upload=make_upload(filename="pending.dmp"))
    return case


def test_staff_sees_status_crashes_findings_and_rerun(client, engineer, analysed_case):
    client.force_login(engineer)
    page = client.get(reverse("cases:detail", args=[analysed_case.number]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="analysis"' in html
    assert "0x1000007e" in html
    assert "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M" in html
    assert "Re-run" in html
    assert "Raw facts" in html
    assert "<script>" not in html and "style=" not in html  # strict CSP: no inline script or style
    assert 'data-pending="1"' in html


def test_customer_sees_only_status(client, customer, analysed_case):
    client.force_login(customer)
    html = client.get(reverse("cases:detail", args=[analysed_case.number])).content.decode()
    assert "Mini022121-01.dmp" in html
    assert "0x1000007e" not in html
    assert "Raw facts" not in html
    assert "Re-run" not in html


def test_other_organisation_gets_404_on_status_and_panel(client, other_customer, analysed_case):
    client.force_login(other_customer)
    for name in ("analysis:status", "analysis:panel"):
        assert client.get(reverse(name, args=[analysed_case.number])).status_code == 404


def test_status_endpoint_reports_pending_and_states(client, customer, analysed_case):
    client.force_login(customer)
    data = client.get(reverse("analysis:status", args=[analysed_case.number])).json()
    assert data["pending"] is True
    assert sorted(u["state"] for u in data["uploads"]) == ["done", "queued"]
    assert all("0x" not in str(u) for u in data["uploads"])


def test_rerun_button_queues_a_new_job_for_staff_only(client, engineer, customer, case, kernel_dump_upload):
    _analyse(kernel_dump_upload)
    url = reverse("analysis:rerun", args=[case.number, kernel_dump_upload.pk])
    client.force_login(customer)
    assert client.post(url).status_code == 403
    client.force_login(engineer)
    with mock.patch("analysis.queueing.job_publish"):
        response = client.post(url)
    assert response.status_code == 302
    assert AnalysisJob.objects.filter(upload=kernel_dump_upload, state="queued").count() == 1


def test_seen_in_other_cases_is_counted(client, engineer, organisation, customer, case, make_upload, samples):

    other = case_services.case_create(actor=engineer, organisation=organisation, title="Same crash elsewhere")
    content = samples(KERNEL_DUMP).read_bytes()
    _analyse(make_upload(content=content, filename="a.dmp"))
    _analyse(store_upload(case=other, content=content, filename="b.dmp"))
    client.force_login(engineer)
    html = client.get(reverse("cases:detail", args=[case.number])).content.decode()
    assert "seen in 1 other case" in html


def test_panel_query_count_does_not_grow_with_crashes(
    client, engineer, case, make_upload, django_assert_max_num_queries, samples
):
    content = samples(KERNEL_DUMP).read_bytes()
    _analyse(make_upload(content=content, filename="one.dmp"))
    client.force_login(engineer)
    url = reverse("analysis:panel", args=[case.number])

    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for i in range(4):
        _analyse(make_upload(content=content, filename=f"more-{i}.dmp"))
    assert Crash.objects.filter(case=case).count() == 5
    with django_assert_max_num_queries(len(one.captured_queries)):
        assert client.get(url).status_code == 200
