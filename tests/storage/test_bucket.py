"""Uploads in object storage, against moto's S3 server over HTTP: chunks stored as multipart parts, the
completion, downloads (streamed and presigned, audited), the analysis reading a dump with ranged reads,
retention, termination, and a bucket that fails mid-transfer or is unreachable."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from unittest import mock

import pytest
import requests
from django.utils import timezone
from prometheus_client import REGISTRY

from analysis import tasks as analysis_tasks
from analysis.models import AnalysisJob, Crash
from cases.models import AuditEvent, Case
from outbox.models import OutboxMessage
from tests.analysis.dump_fixtures import KernelDump
from tests.storage.conftest import multipart_uploads, objects
from tests.uploads.conftest import TUS, sha256_b64
from uploads import files, housekeeping, services, tasks, tus
from uploads.errors import StorageUnavailable
from uploads.models import Upload

MiB = 1024 * 1024


def _location(response) -> str:
    assert response.status_code == 201, response.content
    return response["Location"]


def _send(tus_patch, user, location: str, data: bytes, chunk: int, start: int = 0, forget_hash=False):
    """PATCH ``data[start:]`` in chunks of ``chunk`` bytes; ``forget_hash``: as if each chunk went to
    another web host (no process keeps the running hash)."""
    offset = start
    while offset < len(data):
        piece = data[offset : offset + chunk]
        if forget_hash:
            tus._RUNNING.clear()
        response = tus_patch(user, location, offset, piece, checksum=sha256_b64(piece))
        assert response.status_code == 204, response.content
        offset = int(response["Upload-Offset"])
    return offset


def _finish() -> Upload:
    """Run the completion task the last chunk queued: its message is an outbox row of that request
    (the on-commit callbacks captured, so nothing reached a broker)."""

    message = OutboxMessage.objects.filter(task="uploads.tasks.upload_finish_task").latest("pk")
    upload_id, sha256 = message.args
    assert tasks.upload_finish_task.run(upload_id, sha256) == Upload.State.STORED
    return Upload.objects.get(pk=upload_id)


def _stored(moto, bucket: str, upload: Upload) -> bytes:
    return moto.client().get_object(Bucket=bucket, Key=upload.storage_name)["Body"].read()


def _spool_files() -> list[str]:
    """The upload's bytes on this host (SQLite's per-upload writer lock file is no data: not counted)."""
    return sorted(name for name in os.listdir(files.spool_dir()) if not name.endswith(".lock"))


def test_chunks_go_to_the_bucket_as_parts_and_complete_into_one_object_with_its_sha256(
    moto, bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    data = os.urandom(12 * MiB + 123)
    location = _location(tus_create(customer, case, len(data)))
    upload = Upload.objects.get()
    assert upload.multipart_id and upload.part_size == 5 * MiB
    assert multipart_uploads(moto, bucket) == [
        files.storage_name_for(case_number=case.number, upload_id=upload.pk)
    ]

    # 3.5 MiB chunks end inside parts: the bytes of an unfinished part wait in the bucket as a tail.
    first = data[: int(3.5 * MiB)]
    assert tus_patch(customer, location, 0, first, checksum=sha256_b64(first)).status_code == 204
    assert objects(moto, bucket) == {f"partial/{upload.pk}/tail-{len(first)}": len(first)}
    assert _spool_files() == []  # nothing of the upload stays on this host between requests
    with django_capture_on_commit_callbacks(execute=True):
        _send(tus_patch, customer, location, data[: 7 * MiB], int(3.5 * MiB), start=len(first))
    # At 7 MiB: part 1 (5 MiB) is sent, the first tail was taken in and removed, 2 MiB wait as a tail.
    assert objects(moto, bucket) == {f"partial/{upload.pk}/tail-{7 * MiB}": 2 * MiB}

    with django_capture_on_commit_callbacks():
        assert _send(tus_patch, customer, location, data, int(3.5 * MiB), start=7 * MiB) == len(data)
    assert Upload.objects.get().state == Upload.State.RECEIVING  # every byte in; a worker completes it
    upload = _finish()

    assert upload.state == Upload.State.STORED
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert _stored(moto, bucket, upload) == data
    assert objects(moto, bucket) == {upload.storage_name: len(data)}  # no part or tail left
    assert multipart_uploads(moto, bucket) == []
    assert _spool_files() == []


def test_chunks_taken_by_other_hosts_still_give_the_right_sha256_read_back_from_the_bucket(
    moto, bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    data = os.urandom(11 * MiB)
    location = _location(tus_create(customer, case, len(data)))
    with django_capture_on_commit_callbacks(execute=False):
        _send(tus_patch, customer, location, data, 4 * MiB, forget_hash=True)
    streamed = REGISTRY.get_sample_value("portal_bucket_bytes_read_total", {"how": "streamed"}) or 0
    upload = _finish()
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    # No process saw every chunk, so the worker hashed the object once, streamed.
    after = REGISTRY.get_sample_value("portal_bucket_bytes_read_total", {"how": "streamed"})
    assert after - streamed == len(data)


def test_a_bucket_failing_mid_chunk_keeps_the_offset_and_the_chunk_sent_again_completes_the_file(
    moto, flaky_bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    bucket, proxy = flaky_bucket
    data = os.urandom(16 * MiB)
    location = _location(tus_create(customer, case, len(data)))
    first = data[: 6 * MiB]
    assert tus_patch(customer, location, 0, first, checksum=sha256_b64(first)).status_code == 204

    proxy.cut_after(1 * MiB)  # every connection to the bucket dies after 1 MiB
    second = data[6 * MiB : 12 * MiB]
    response = tus_patch(customer, location, 6 * MiB, second, checksum=sha256_b64(second))
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    assert "file store is unavailable" in response.json()["detail"]
    assert proxy.cuts >= 1
    upload = Upload.objects.get()
    assert upload.offset == 6 * MiB  # the chunk was not acknowledged: the client sends it again
    assert _spool_files() == []

    proxy.healthy()
    with django_capture_on_commit_callbacks():
        assert _send(tus_patch, customer, location, data, 6 * MiB, start=6 * MiB) == len(data)
    upload = _finish()
    assert _stored(moto, bucket, upload) == data  # never half-stored
    assert upload.sha256 == hashlib.sha256(data).hexdigest()


def test_an_unreachable_bucket_refuses_a_new_upload_with_503_and_creates_nothing(
    flaky_bucket, tus_create, customer, case
):
    _bucket, proxy = flaky_bucket
    proxy.refuse()
    response = tus_create(customer, case, 10 * MiB)
    assert response.status_code == 503
    assert "file store is unavailable" in response.json()["detail"]
    assert not Upload.objects.exists()


def test_completion_with_the_bucket_down_is_retried_and_the_upload_waits_with_every_byte_in(
    moto, flaky_bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    bucket, proxy = flaky_bucket
    data = os.urandom(7 * MiB)
    location = _location(tus_create(customer, case, len(data)))
    with django_capture_on_commit_callbacks():
        _send(tus_patch, customer, location, data, len(data))
    upload = Upload.objects.get()
    proxy.refuse()
    with pytest.raises(StorageUnavailable):  # the task's autoretry_for: retried with backoff
        services.upload_finish_queued(upload_id=str(upload.pk), sha256=None)
    upload.refresh_from_db()
    assert (upload.state, upload.offset) == (Upload.State.RECEIVING, len(data))
    assert (
        tasks.upload_finish_task.autoretry_for
        and StorageUnavailable in tasks.upload_finish_task.autoretry_for
    )

    proxy.healthy()  # the retry (or the sweep, ten minutes on) finishes it
    later = timezone.now() + housekeeping.STRANDED_AFTER + timedelta(minutes=1)
    with django_capture_on_commit_callbacks():
        assert housekeeping.upload_finish_stranded(now=later) == 1
    upload.refresh_from_db()
    assert upload.state == Upload.State.STORED
    assert _stored(moto, bucket, upload) == data


@pytest.fixture
def stored_upload(bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks):
    data = b"MDMP" + os.urandom(6 * MiB)
    location = _location(tus_create(customer, case, len(data), filename="crash <x>.dmp"))
    with django_capture_on_commit_callbacks():
        _send(tus_patch, customer, location, data, len(data))
    with mock.patch("analysis.queueing.job_publish"):
        return _finish(), data


def test_download_is_streamed_from_the_bucket_and_audited(client, customer, stored_upload):
    upload, data = stored_upload
    client.force_login(customer)
    response = client.get(f"/uploads/{upload.pk}/download/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == data
    event = AuditEvent.objects.get(action="upload_downloaded")
    assert (event.actor, event.data["how"]) == (customer, "streamed")


def test_presigned_download_redirects_to_an_inert_attachment_in_the_bucket(
    client, customer, stored_upload, settings
):
    settings.STORAGE_PRESIGNED_DOWNLOADS = True
    upload, data = stored_upload
    client.force_login(customer)
    response = client.get(f"/uploads/{upload.pk}/download/")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    fetched = requests.get(response["Location"], timeout=10)
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["Content-Type"] == "application/octet-stream"
    assert fetched.headers["Content-Disposition"] == files.content_disposition(upload.filename)
    assert AuditEvent.objects.get(action="upload_downloaded").data["how"] == "presigned"


def test_download_of_a_file_whose_bucket_is_down_is_503(client, customer, stored_upload, settings, moto):
    upload, _data = stored_upload
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {
            **settings.STORAGES["uploads"],
            "OPTIONS": {**settings.STORAGES["uploads"]["OPTIONS"], "endpoint_url": "http://127.0.0.1:9"},
        },
    }
    client.force_login(customer)
    response = client.get(f"/uploads/{upload.pk}/download/")
    assert response.status_code == 503
    assert not AuditEvent.objects.filter(action="upload_downloaded").exists()


def test_the_analysis_reads_a_dump_in_the_bucket_with_ranged_reads_only(
    bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    size = 24 * MiB
    head = KernelDump(dump_type=5, required_space=size).build()  # a kernel memory dump: header + memory
    data = head + bytes(size - len(head))
    location = _location(tus_create(customer, case, size))
    with django_capture_on_commit_callbacks():
        _send(tus_patch, customer, location, data, 12 * MiB)
    with django_capture_on_commit_callbacks(), mock.patch("analysis.queueing.job_publish"):
        upload = _finish()
    assert upload.kind == Upload.Kind.KERNEL_DUMP  # type detected from one ranged read
    job = AnalysisJob.objects.get(upload=upload)

    ranged = REGISTRY.get_sample_value("portal_bucket_bytes_read_total", {"how": "ranged"}) or 0
    streamed = REGISTRY.get_sample_value("portal_bucket_bytes_read_total", {"how": "streamed"}) or 0
    assert analysis_tasks.analyse_upload(job.pk) == "done"
    read = REGISTRY.get_sample_value("portal_bucket_bytes_read_total", {"how": "ranged"}) - ranged
    assert read == 64 * 1024  # the header's 8 KiB inside the first 64 KiB, fetched once: not 24 MiB
    assert (REGISTRY.get_sample_value("portal_bucket_bytes_read_total", {"how": "streamed"}) or 0) == streamed
    crash = Crash.objects.get(upload=upload)
    assert crash.code == "0x000000be"
    assert crash.raw["extra"]["file_size"] == size


def test_retention_deletes_the_object_and_keeps_the_record(
    moto, bucket, stored_upload, django_capture_on_commit_callbacks
):
    upload, data = stored_upload
    Case.objects.filter(pk=upload.case_id).update(
        state="closed", closed_at=timezone.now() - timedelta(days=400)
    )
    assert upload.storage_name in objects(moto, bucket)
    with django_capture_on_commit_callbacks(execute=True):
        assert housekeeping.upload_retention_apply() == 1
    assert upload.storage_name not in objects(moto, bucket)
    upload.refresh_from_db()
    assert upload.content_deleted_at is not None and upload.sha256 == hashlib.sha256(data).hexdigest()
    assert AuditEvent.objects.filter(action="upload_content_deleted").count() == 1


def test_a_cancelled_upload_leaves_no_part_or_tail_in_the_bucket(
    moto, bucket, tus_create, tus_patch, token_client, customer, case, django_capture_on_commit_callbacks
):
    data = os.urandom(8 * MiB)
    location = _location(tus_create(customer, case, 20 * MiB))
    _send(tus_patch, customer, location, data, len(data))
    assert objects(moto, bucket)  # the tail of the unfinished second part
    with django_capture_on_commit_callbacks(execute=True):
        assert token_client(customer).delete(location, **TUS).status_code == 204
    assert objects(moto, bucket) == {}
    assert multipart_uploads(moto, bucket) == []


def test_a_tail_lost_by_the_bucket_ends_the_upload_with_410_and_the_reason(
    moto, bucket, tus_create, tus_patch, customer, case
):
    data = os.urandom(8 * MiB)
    location = _location(tus_create(customer, case, 20 * MiB))
    _send(tus_patch, customer, location, data, len(data))
    upload = Upload.objects.get()
    moto.client().delete_object(Bucket=bucket, Key=f"partial/{upload.pk}/tail-{len(data)}")
    more = os.urandom(MiB)
    response = tus_patch(customer, location, len(data), more, checksum=sha256_b64(more))
    assert response.status_code == 410
    assert "missing from the file store" in response.json()["detail"]
    upload.refresh_from_db()
    assert upload.offset == len(data)


def test_an_upload_whose_parts_the_bucket_lost_is_rejected_with_the_reason_not_retried_forever(
    moto, bucket, tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks
):
    data = os.urandom(6 * MiB)
    location = _location(tus_create(customer, case, len(data)))
    with django_capture_on_commit_callbacks():
        _send(tus_patch, customer, location, data, len(data))
    upload = Upload.objects.get()
    moto.client().abort_multipart_upload(
        Bucket=bucket, Key=multipart_uploads(moto, bucket)[0], UploadId=upload.multipart_id
    )
    with django_capture_on_commit_callbacks(execute=True):
        result = services.upload_finish_queued(upload_id=str(upload.pk), sha256=None)
    assert result.state == Upload.State.REJECTED
    upload.refresh_from_db()
    assert (
        upload.state == Upload.State.REJECTED and "lost before it could be stored" in upload.rejection_reason
    )
    assert AuditEvent.objects.filter(action="upload_lost").count() == 1
    assert objects(moto, bucket) == {}
