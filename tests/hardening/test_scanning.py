"""Virus scanning against a real clamd (research/reliability.md S13, S14): only ``OK`` is clean.

Each test says what the file gets: held, clean and analysed, quarantined, or marked not scanned.
"""

from __future__ import annotations

import io
import logging
import zipfile

import pytest
from django.test import Client

from analysis.models import AnalysisJob
from cases.models import AuditEvent
from tests.hardening.conftest import EICAR, MARKER, STREAM_MAX
from uploads import scanning
from uploads.models import Upload
from uploads.tasks import upload_expand_archive, upload_scan

pytestmark = pytest.mark.django_db


@pytest.fixture
def scanner(settings, clamd_socket):
    settings.CLAMAV_SOCKET = clamd_socket
    settings.CLAMAV_MAX_SIZE = 64 * 1024 * 1024
    return clamd_socket


@pytest.fixture
def upload_file(tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks):
    """Upload through tus; returns the upload right after completion, before any task ran."""

    def _upload(data: bytes, name: str = "MEMORY.DMP") -> Upload:
        location = tus_create(customer, case, len(data), filename=name)["Location"]
        with django_capture_on_commit_callbacks(execute=False):
            assert tus_patch(customer, location, 0, data).status_code == 204
        return Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[1])

    return _upload


def _download_status(user, upload: Upload) -> int:
    browser = Client()
    browser.force_login(user)
    return browser.get(f"/uploads/{upload.pk}/download/").status_code


def _scan(upload: Upload, django_capture_on_commit_callbacks) -> Upload:
    with django_capture_on_commit_callbacks(execute=False):
        upload_scan(str(upload.pk))
    upload.refresh_from_db()
    return upload


def test_clean_file_is_held_until_scanned_then_analysed(
    scanner, upload_file, engineer, django_capture_on_commit_callbacks
):
    upload = upload_file(b"PAGEDU64" + b"\x00" * 4096)
    # Held: not downloadable, not analysed, until clamd says OK.
    assert upload.scan == Upload.Scan.PENDING
    assert _download_status(engineer, upload) == 409
    assert not AnalysisJob.objects.filter(upload=upload).exists()
    upload = _scan(upload, django_capture_on_commit_callbacks)
    assert upload.scan == Upload.Scan.CLEAN and upload.scan_detail == "stream: OK"
    assert upload.state == Upload.State.STORED
    assert AnalysisJob.objects.filter(upload=upload).count() == 1
    assert _download_status(engineer, upload) == 200
    assert AuditEvent.objects.filter(action="upload_scanned", data__upload=str(upload.pk)).exists()


def test_eicar_is_quarantined_with_the_signature_and_a_security_event(
    scanner, upload_file, customer, engineer, django_capture_on_commit_callbacks, caplog
):
    upload = upload_file(EICAR, "readme.txt")
    with caplog.at_level(logging.WARNING, logger="portal.security"):
        upload = _scan(upload, django_capture_on_commit_callbacks)
    assert upload.scan == Upload.Scan.INFECTED
    assert upload.state == Upload.State.REJECTED
    assert "Portal.Test.EICAR" in upload.rejection_reason
    # Quarantined: nobody downloads it through the portal, nothing analyses it.
    assert _download_status(customer, upload) == 403
    assert _download_status(engineer, upload) == 403
    assert not AnalysisJob.objects.filter(upload=upload).exists()
    event = AuditEvent.objects.get(action="upload_infected")
    assert event.data["signature"].startswith("Portal.Test.EICAR") and event.data["sha256"] == upload.sha256
    assert any("virus found" in record.getMessage() for record in caplog.records)


def test_eicar_inside_a_zip_quarantines_the_archive_before_expansion(
    scanner, upload_file, django_capture_on_commit_callbacks
):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("logs/readme.txt", EICAR)
    upload = _scan(upload_file(buffer.getvalue(), "logs.zip"), django_capture_on_commit_callbacks)
    assert upload.kind == Upload.Kind.ARCHIVE
    assert upload.scan == Upload.Scan.INFECTED and upload.state == Upload.State.REJECTED
    assert not upload.members.exists()


def test_signature_hidden_inside_a_dump_is_found(scanner, upload_file, django_capture_on_commit_callbacks):
    upload = upload_file(b"PAGEDU64" + b"\x00" * 100_000 + MARKER + b"\x00" * 1000)
    upload = _scan(upload, django_capture_on_commit_callbacks)
    assert upload.scan == Upload.Scan.INFECTED
    assert "Portal.Test.Marker" in upload.scan_detail


def test_file_over_clamds_stream_limit_stays_held_never_clean(
    scanner, upload_file, engineer, django_capture_on_commit_callbacks
):
    upload = upload_file(b"\x00" * (STREAM_MAX + 4096), "big.bin")
    upload = _scan(upload, django_capture_on_commit_callbacks)
    # clamd answers "INSTREAM size limit exceeded. ERROR": not clean, so held with the reason (fail closed).
    assert upload.scan == Upload.Scan.PENDING
    assert "could not scan" in upload.scan_detail and "ERROR" in upload.scan_detail
    assert _download_status(engineer, upload) == 409
    assert not AnalysisJob.objects.filter(upload=upload).exists()
    assert AuditEvent.objects.filter(action="upload_scan_failed").exists()


def test_file_over_the_scanner_size_limit_is_marked_not_scanned_and_shown_so(
    scanner, settings, upload_file, customer, case
):
    settings.CLAMAV_MAX_SIZE = 1000
    upload = upload_file(b"PAGEDU64" + b"\x00" * 2000)
    assert upload.scan == Upload.Scan.NOT_SCANNED
    assert AnalysisJob.objects.filter(upload=upload).count() == 1  # not held: it can never be scanned
    browser = Client()
    browser.force_login(customer)
    assert (
        "Not scanned: too large for the scanner"
        in browser.get(f"/cases/{case.number}/upload/").content.decode()
    )
    assert browser.get(f"/api/uploads/{upload.pk}/").json()["scan"] == "not_scanned"


def test_scanner_down_keeps_the_file_held_and_the_task_retries(settings, tmp_path, upload_file):
    settings.CLAMAV_SOCKET = str(tmp_path / "no-clamd.sock")
    upload = upload_file(b"hello")
    with pytest.raises(scanning.ScannerUnavailable):
        scanning.upload_scan_run(upload_id=str(upload.pk))
    upload.refresh_from_db()
    assert upload.scan == Upload.Scan.PENDING
    assert "unavailable" in upload.scan_detail
    # The task retries only this kind of error (with backoff), never a verdict.
    assert scanning.ScannerUnavailable in upload_scan.autoretry_for


def test_scanning_off_changes_nothing(upload_file):
    upload = upload_file(b"hello")
    assert upload.scan == Upload.Scan.OFF
    assert AnalysisJob.objects.filter(upload=upload).count() == 1


@pytest.mark.parametrize(
    ("raw", "clean", "signature"),
    [
        ("stream: OK", True, None),
        ("stream: Eicar-Signature FOUND", False, "Eicar-Signature"),
        ("INSTREAM size limit exceeded. ERROR", False, None),
        ("stream: OK but odd", False, None),
        ("", False, None),
        ("stream: Can't allocate memory ERROR", False, None),
    ],
)
def test_only_exactly_ok_is_clean(raw, clean, signature):
    answer = scanning.answer_parse(raw)
    assert (answer.clean, answer.signature) == (clean, signature)


def test_stream_is_sent_in_bounded_chunks(clamd_socket):
    class Counting(io.BytesIO):
        largest = 0

        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            Counting.largest = max(Counting.largest, len(data))
            return data

    answer = scanning.clamd_scan_stream(Counting(b"\x00" * 900_000), address=clamd_socket)
    assert answer.clean
    assert Counting.largest <= scanning.CHUNK  # never the whole file in memory


def test_each_member_of_a_clean_archive_is_scanned_before_it_is_analysed(
    scanner, upload_file, django_capture_on_commit_callbacks
):
    """clamd looks inside archives only within its limits (25 MB per member by default), so a clean
    archive does not vouch for its members: each is held and scanned on its own."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MEMORY.DMP", b"PAGEDU64" + b"\x00" * 4096)
    upload = _scan(upload_file(buffer.getvalue(), "dumps.zip"), django_capture_on_commit_callbacks)
    assert upload.scan == Upload.Scan.CLEAN
    with django_capture_on_commit_callbacks(execute=False):
        upload_expand_archive(str(upload.pk))
    member = upload.members.get()
    assert member.scan == Upload.Scan.PENDING
    assert not AnalysisJob.objects.filter(upload=member).exists()
    member = _scan(member, django_capture_on_commit_callbacks)
    assert member.scan == Upload.Scan.CLEAN
    assert AnalysisJob.objects.filter(upload=member).count() == 1
