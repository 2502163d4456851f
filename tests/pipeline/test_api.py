"""/api/cases/<number>/findings/ per role, job state on /api/uploads/<id>/, /healthz worker state."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.urls import reverse

from analysis import heartbeat, queueing, tasks
from analysis.serializers import UploadWithAnalysisSerializer

pytestmark = pytest.mark.django_db

CONTRACT_CRASH_KEYS = {
    "bugcheck_code",
    "bugcheck_name",
    "parameters",
    "crash_time",
    "os_build",
    "architecture",
    "process_name",
    "culprit_module",
    "culprit_reason",
    "stack",
    "modules",
    "signatures",
}


@pytest.fixture
def analysed(kernel_dump_upload):
    with mock.patch("analysis.queueing.job_publish"):
        job = queueing.job_queue_for_upload(upload=kernel_dump_upload)
    tasks.analyse_upload(job.pk)
    return kernel_dump_upload


def _url(upload) -> str:
    return reverse("api:case_findings", args=[upload.case.number])


@pytest.mark.parametrize("persona", ["engineer", "manager", "account_manager"])
def test_staff_get_crashes_and_findings(request, login_api, analysed, persona):
    response = login_api(request.getfixturevalue(persona)).get(_url(analysed))
    assert response.status_code == 200
    data = response.json()
    assert data["case"] == analysed.case.number
    (crash,) = data["crashes"]
    assert crash.keys() >= CONTRACT_CRASH_KEYS
    assert crash["bugcheck_code"] == "0x1000007e"
    assert crash["upload"] == str(analysed.pk)
    scopes = {f["scope"] for f in data["findings"]}
    assert scopes == {"case", "upload"}
    assert any(crash["id"] in f["evidence"] for f in data["findings"])
    assert data["uploads"][0]["analysis"]["state"] == "done"


def test_customer_of_the_case_gets_403(login_api, customer, analysed):
    response = login_api(customer).get(_url(analysed))
    assert response.status_code == 403
    assert "0x" not in response.content.decode()


def test_other_organisation_gets_404(login_api, other_customer, analysed):
    assert login_api(other_customer).get(_url(analysed)).status_code == 404


def test_anonymous_is_refused(api_client, analysed):
    assert api_client.get(_url(analysed)).status_code in (401, 403)


def test_upload_serializer_adds_the_job_state(analysed):
    data = UploadWithAnalysisSerializer(analysed).data
    assert data["analysis"]["state"] == "done"
    assert data["analysis"]["attempts"] == 1
    assert data["filename"] == analysed.filename


def test_healthz_reports_worker_state(client, settings, tmp_path, engineer):
    client.force_login(engineer)
    settings.VAR_DIR = tmp_path
    # The embedded setup's heartbeat (a file); a shared Redis cache may hold a live worker's heartbeat.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    body = json.loads(client.get("/healthz").content)
    assert body["workers"]["state"] == "unknown"
    heartbeat.worker_heartbeat_record(worker="celery@test")
    response = client.get("/healthz")
    body = json.loads(response.content)
    assert response.status_code == 200
    assert body["workers"]["state"] == "ok"
    assert body["workers"]["worker"] == "celery@test"
    assert body["workers"]["jobs"] == {"queued": 0, "running": 0}
