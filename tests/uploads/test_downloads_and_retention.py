"""Downloads (headers, audit, authorisation), the upload page and API, quotas and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone

from analysis.models import AnalysisJob
from cases import services as case_services
from cases.models import AuditEvent
from tests.uploads.conftest import TUS
from uploads import housekeeping
from uploads.models import Upload
from uploads.tasks import upload_expire_sweep, upload_retention_sweep

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored(tus_create, tus_patch, customer, case):
    """A stored upload with a hostile name and HTML content."""

    def _make(name: str = "x.html", data: bytes = b"<script>alert(1)</script>") -> Upload:
        location = tus_create(customer, case, len(data), filename=name)["Location"]
        assert tus_patch(customer, location, 0, data).status_code == 204
        return Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[1])

    return _make


def test_download_is_an_attachment_that_is_never_rendered(stored, engineer):
    upload = stored('报告 "x".html')
    browser = Client()
    browser.force_login(engineer)
    response = browser.get(f"/uploads/{upload.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "sandbox"
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment; ")
    assert "filename*=UTF-8''%E6%8A%A5%E5%91%8A%20_x_.html" in disposition
    assert "\r" not in disposition and "\n" not in disposition
    assert b"".join(response.streaming_content) == b"<script>alert(1)</script>"
    event = AuditEvent.objects.get(action="upload_downloaded")
    assert event.actor == engineer and event.data["upload"] == str(upload.pk)


def test_header_injection_in_a_name_is_neutralised(stored, engineer):
    upload = stored("a\r\nSet-Cookie: x=1.txt")
    assert "\r" not in upload.filename and "\n" not in upload.filename
    browser = Client()
    browser.force_login(engineer)
    response = browser.get(f"/uploads/{upload.pk}/download/")
    assert "Set-Cookie" not in response.cookies


def test_customer_downloads_own_organisation_upload_but_not_anothers(
    stored, customer, other_customer, token_client
):
    upload = stored()
    assert token_client(customer).get(f"/api/uploads/{upload.pk}/download/").status_code == 200
    assert token_client(other_customer).get(f"/api/uploads/{upload.pk}/download/").status_code == 404
    other = Client()
    other.force_login(other_customer)
    assert other.get(f"/uploads/{upload.pk}/download/").status_code == 404
    assert other.get(f"/cases/{upload.case.number}/upload/").status_code == 404


def test_api_list_is_paginated_with_the_contract_fields(
    stored, token_client, customer, case, django_assert_max_num_queries
):
    stored("a.log", b"one")
    stored("b.log", b"two")
    client = token_client(customer)
    with django_assert_max_num_queries(8):
        response = client.get(f"/api/cases/{case.number}/uploads/")
    body = response.json()
    assert set(body) >= {"count", "next", "previous", "results"}
    assert body["count"] == 2
    row = body["results"][0]
    for field in (
        "id",
        "filename",
        "size",
        "sha256",
        "state",
        "kind",
        "uploaded_by",
        "created_at",
        "completed_at",
    ):
        assert field in row
    assert row["uploaded_by"] == "alice" and row["state"] == "stored" and row["kind"] == "text_log"
    detail = client.get(f"/api/uploads/{row['id']}/").json()
    assert detail["sha256"] == row["sha256"]


def test_upload_page_lists_files_with_sha256_and_shows_the_command(stored, customer, case):
    upload = stored("dmesg.txt", b"BUG: oops")
    browser = Client()
    browser.force_login(customer)
    response = browser.get(f"/cases/{case.number}/upload/")
    assert response.status_code == 200
    html = response.content.decode()
    assert upload.sha256 in html
    assert "dmesg.txt" in html
    assert f"/api/cases/{case.number}/uploads/tus/" in html
    assert "/api/token/" in html and "PORTAL_TOKEN" in html
    assert "<script>" not in html.split("</head>", 1)[1].replace(
        '<script id="upload-strings" type="application/json">', ""
    )
    assert "90 days after the case is closed" in html


def test_case_page_shows_the_uploads_panel(stored, engineer, case):
    upload = stored("dmesg.txt", b"BUG: oops")
    browser = Client()
    browser.force_login(engineer)
    html = browser.get(f"/cases/{case.number}/").content.decode()
    assert upload.sha256 in html
    assert f"/cases/{case.number}/upload/" in html


def test_retention_deletes_files_after_close_keeping_metadata(
    stored, engineer, case, django_capture_on_commit_callbacks, settings
):
    upload = stored("dmesg.txt", b"BUG: oops")
    case_services.case_act(
        actor=engineer,
        case=case,
        name="close",
        data={"problem_description": "p", "analysis": "a", "resolution": "r", "resolution_type": "resolved"},
    )
    case.refresh_from_db()
    assert housekeeping.upload_retention_date(case=case) == case.closed_at + timedelta(days=90)
    assert housekeeping.upload_retention_apply() == 0  # not yet due
    with django_capture_on_commit_callbacks(execute=True):
        assert housekeeping.upload_retention_apply(now=timezone.now() + timedelta(days=91)) == 1
    upload.refresh_from_db()
    assert upload.content_deleted_at is not None
    assert upload.sha256 and upload.filename == "dmesg.txt" and upload.size == 9
    assert not storages["uploads"].exists(upload.storage_name)
    assert AuditEvent.objects.filter(action="upload_content_deleted", case=case).exists()
    browser = Client()
    browser.force_login(engineer)
    assert browser.get(f"/uploads/{upload.pk}/download/").status_code == 410


def test_retention_spares_reopened_cases(stored, engineer, case):
    stored("dmesg.txt", b"BUG: oops")
    case_services.case_act(
        actor=engineer,
        case=case,
        name="close",
        data={"problem_description": "p", "analysis": "a", "resolution": "r", "resolution_type": "resolved"},
    )
    case_services.case_act(actor=engineer, case=case, name="reopen", data={"message": "again"})
    assert housekeeping.upload_retention_apply(now=timezone.now() + timedelta(days=365)) == 0


def test_beat_schedule_has_the_upload_sweeps(settings):
    tasks = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert {"uploads.tasks.upload_expire_sweep", "uploads.tasks.upload_retention_sweep"} <= tasks


def test_sweep_tasks_run(stored):

    assert upload_expire_sweep() == 0
    assert upload_retention_sweep() == 0


def test_non_archive_completion_queues_analysis_in_the_same_transaction(
    tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    pytest.importorskip("analysis.services", reason="the analysis pipeline is not in this tree yet")

    location = tus_create(customer, case, 9, filename="dmesg.txt")["Location"]
    with django_capture_on_commit_callbacks() as callbacks:
        assert tus_patch(customer, location, 0, b"BUG: oops", **{}).status_code == 204
    assert AnalysisJob.objects.filter(upload__case=case).count() == 1
    assert callbacks


def test_head_of_a_stored_upload_reports_it_complete(stored, token_client, customer, case):
    upload = stored()
    response = token_client(customer).head(f"/api/cases/{case.number}/uploads/tus/{upload.pk}", **TUS)
    assert response["Upload-Offset"] == response["Upload-Length"] == str(upload.size)
