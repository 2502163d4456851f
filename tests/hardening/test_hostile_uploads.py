"""Hostile uploads that tests/uploads does not already cover (research/reliability.md S10-S12).

Each test names the bad input and what it gets: rejected with a reason, sanitised, or served inertly.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import time
import tracemalloc
import zipfile

import pytest
from django.test import Client

from analysis.models import AnalysisJob, Finding
from analysis.queueing import job_queue_for_upload
from analysis.tasks import analyse_upload
from tests.pipeline.conftest import store_upload
from uploads import archives, files
from uploads.models import Upload

pytestmark = pytest.mark.django_db

MiB = 1024 * 1024


@pytest.fixture
def stored(tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks):
    """Upload through tus as the customer; tasks queued on commit are not run."""

    def _stored(data: bytes, name: str) -> Upload:
        location = tus_create(customer, case, len(data), filename=name)["Location"]
        with django_capture_on_commit_callbacks(execute=False):
            assert tus_patch(customer, location, 0, data).status_code == 204
        return Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[1])

    return _stored


def _expand_rejected(upload: Upload) -> Upload:
    archives.archive_expand(upload_id=str(upload.pk))
    upload.refresh_from_db()
    assert upload.state == Upload.State.REJECTED, upload.rejection_reason
    assert not upload.members.exists()
    assert not (files.spool_dir() / f"{upload.pk}.expand").exists()
    return upload


# -- archives ---------------------------------------------------------------------------------------------


def test_zip_whose_header_understates_a_member_is_rejected(stored):
    """A member that declares 1,000 bytes but inflates to 32 MiB: the streaming counter stops it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("small.txt", bytes(32 * MiB))
    raw = bytearray(buffer.getvalue())
    local = raw.find(b"PK\x03\x04")
    struct.pack_into("<I", raw, local + 22, 1000)  # uncompressed size in the local header
    central = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 1000)  # and in the central directory
    upload = _expand_rejected(stored(bytes(raw), "lying.zip"))
    assert "larger than its header" in upload.rejection_reason or "damaged" in upload.rejection_reason


def test_single_gzip_bomb_without_headers_is_stopped_by_the_byte_counter(stored, tmp_path):
    """gzip declares no size up front: 256 MiB of one letter in ~250 KB is cut at the ratio limit while
    streaming, long before it is written out. (Zeros would read as an empty tar: nothing expanded.)"""
    body = gzip.compress(b"A" * (256 * MiB), compresslevel=9)
    upload = _expand_rejected(stored(body, "vmcore-dmesg.txt.gz"))
    assert "times its size" in upload.rejection_reason


def test_tar_gz_bomb_is_rejected_from_its_headers(stored):
    """A tar.gz whose one member declares 128 MiB (compressing to ~130 KB): refused before extraction."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=9) as archive:
        info = tarfile.TarInfo("zeros.bin")
        info.size = 128 * MiB
        archive.addfile(info, io.BytesIO(bytes(info.size)))
    started = time.monotonic()
    upload = _expand_rejected(stored(buffer.getvalue(), "logs.tar.gz"))
    assert "times its size" in upload.rejection_reason
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    "name", ["../../etc/cron.d/evil", "/etc/passwd", "a/../../b", "C:\\Windows\\evil.dll"]
)
def test_tar_member_leaving_its_folder_is_rejected(stored, name):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = 4
        archive.addfile(info, io.BytesIO(b"evil"))
    upload = _expand_rejected(stored(buffer.getvalue(), "t.tar"))
    assert "path" in upload.rejection_reason


# -- dumps with absurd headers, through the pipeline service ------------------------------------------------


def _absurd_minidump() -> bytes:
    """``MDMP`` claiming 4 billion streams, each stream claiming 4 GB at the end of the address space,
    and a module list of 4 billion modules."""
    header = b"MDMP" + struct.pack("<IIIIIQ", 0xA793, 0xFFFFFFFF, 32, 0, 0x5F000000, 0)
    directory = b"".join(struct.pack("<III", kind, 0xFFFFFFFF, 0xFFFFFFF0) for kind in (3, 4, 6, 7, 9))
    modules = struct.pack("<I", 0xFFFFFFFF) + b"\xff" * 108
    return header + directory + modules


def _absurd_kernel_dump() -> bytes:
    """``PAGEDU64`` (full dump) whose physical memory descriptor claims 4 billion runs of 2^64 pages."""
    head = bytearray(0x2000)
    head[0:8] = b"PAGEDU64"
    struct.pack_into("<II", head, 0x08, 0xF, 19041)
    struct.pack_into("<II", head, 0x30, 0x8664, 0xFFFFFFFF)  # machine, 4 billion processors
    struct.pack_into("<I", head, 0x38, 0xBE)
    struct.pack_into("<IQ", head, 0x88, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF)
    struct.pack_into("<I", head, 0xF98, 1)
    struct.pack_into("<Q", head, 0xFA0, 0xFFFFFFFFFFFFFFFF)
    return bytes(head) + b"\xff" * 4096


@pytest.mark.parametrize(
    ("name", "content"), [("user.dmp", _absurd_minidump()), ("MEMORY.DMP", _absurd_kernel_dump())]
)
def test_dump_with_absurd_header_counts_ends_in_an_explained_finding(case, customer, name, content):
    """The job ends (done with the parse error, or failed) within seconds and a few MB, with a finding
    that says so; the task returns normally, so the worker process survives."""
    upload = store_upload(case=case, content=content, filename=name, uploaded_by=customer)
    job = job_queue_for_upload(upload=upload)
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome = analyse_upload(job.pk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    job.refresh_from_db()
    upload.refresh_from_db()
    assert outcome in ("done", "failed")
    assert job.state in (AnalysisJob.State.DONE, AnalysisJob.State.FAILED)
    assert elapsed < 10, f"{elapsed:.1f} s"
    assert peak < 64 * MiB, f"peak {peak / MiB:.0f} MiB"
    findings = list(Finding.objects.filter(upload=upload).values_list("code", flat=True))
    if job.state == AnalysisJob.State.FAILED:
        assert job.error and "analysis_failed" in findings
    else:
        # Either the parser rejected the header (error kept on the job, upload failed) or it read what it
        # could and flagged nothing it did not find; never a crash row built from the absurd counts.
        assert job.error or findings, "an absurd dump must not pass silently"
        assert upload.state in (Upload.State.FAILED, Upload.State.ANALYSED)


# -- served back ------------------------------------------------------------------------------------------

POLYGLOT = (
    b"PAGEDU64"
    + b"\x00" * 56
    + b"<!DOCTYPE html><html><body><script>fetch('/api/cases/').then(r=>r.text()).then(alert)</script>"
    + b"<svg onload=alert(1)></svg></body></html>"
)


@pytest.mark.parametrize("name", ["report.html", "image.svg", "page.xhtml", "noext"])
def test_polyglot_html_dump_is_only_ever_an_inert_attachment(stored, engineer, customer, name, token_client):
    """A file that is both a dump (by magic) and an HTML/SVG page: downloaded as an octet-stream
    attachment with nosniff and a sandbox CSP from the page and the API, never inline, never in a page."""
    upload = stored(POLYGLOT, name)
    assert upload.kind == Upload.Kind.KERNEL_DUMP
    browser = Client()
    browser.force_login(engineer)
    api = token_client(customer)
    for response in (
        browser.get(f"/uploads/{upload.pk}/download/"),
        api.get(f"/api/uploads/{upload.pk}/download/"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Disposition"].startswith("attachment; ")
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Security-Policy"] == "sandbox"
        assert "Set-Cookie" not in response
        assert b"".join(response.streaming_content) == POLYGLOT
    for page in (f"/cases/{upload.case.number}/", f"/cases/{upload.case.number}/upload/"):
        html = browser.get(page).content
        assert b"fetch('/api/cases/')" not in html and b"<svg onload" not in html


# -- names ------------------------------------------------------------------------------------------------

HOSTILE_NAMES = {
    "invoice\u202egpj.exe": "invoicegpj.exe",  # right-to-left override: would show as invoiceexe.jpg
    "\u200fdump\u200e.dmp": "dump.dmp",  # right-to-left and left-to-right marks
    "\u2066evil\u2069.dmp": "evil.dmp",  # directional isolates
    "bell\x07\x1b[31mred\x00.dmp": "bell[31mred.dmp",  # BEL, ANSI escape, NUL
    "line\u2028break\u2029.txt": "linebreak.txt",  # Unicode line and paragraph separators
    "zero\u200bwidth.log": "zerowidth.log",
    "<img src=x onerror=alert(1)>.txt": "_img src=x onerror=alert(1)_.txt",
    "\x01\x02\x03": "upload.bin",
}


@pytest.mark.parametrize(("raw", "shown"), HOSTILE_NAMES.items())
def test_names_with_control_and_bidi_characters_are_sanitised(stored, customer, raw, shown):
    """The stored display name drops control and format characters; pages escape what is left, and the
    download header carries it encoded, on one line."""
    upload = stored(b"BUG: oops", raw)
    assert upload.filename == shown
    browser = Client()
    browser.force_login(customer)
    html = browser.get(f"/cases/{upload.case.number}/upload/").content.decode()
    for bad in ("\u202e", "\u200f", "\u2066", "\x1b", "\x00", "\u2028", "\u200b", "<img src=x"):
        assert bad not in html
    disposition = browser.get(f"/uploads/{upload.pk}/download/")["Content-Disposition"]
    assert disposition.isascii() and "\r" not in disposition and "\n" not in disposition


def test_archive_member_names_are_sanitised_too(stored):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("logs/\u202etxt.exe", b"BUG: oops")
    upload = stored(buffer.getvalue(), "logs.zip")
    archives.archive_expand(upload_id=str(upload.pk))
    member = upload.members.get()
    assert member.filename == "txt.exe"
    assert member.storage_name.endswith(str(member.pk))  # stored under its UUID, never the name


def test_very_long_unicode_name_keeps_its_extension(stored):
    upload = stored(b"x", "蓝屏" * 150 + ".dmp")
    assert len(upload.filename) <= 200 and upload.filename.endswith(".dmp")
