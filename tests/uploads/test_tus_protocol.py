"""The tus server through DRF's test client: every bad input with its answer (issue 3)."""

from __future__ import annotations

import errno
import hashlib
import os
from datetime import timedelta
from unittest import mock

import pytest
from django.core.files.storage import storages
from django.db import connection
from django.test import Client
from django.utils import timezone

from cases import services as case_services
from cases.models import AuditEvent
from tests.factories import CustomerFactory
from tests.uploads.conftest import TUS, metadata, sha256_b64, tus_url
from uploads import files, housekeeping, services, tasks, tus
from uploads.models import Upload

pytestmark = pytest.mark.django_db


def _created(response) -> str:
    assert response.status_code == 201, response.content
    assert response["Tus-Resumable"] == "1.0.0"
    return response["Location"]


def test_options_advertises_extensions_and_limits(token_client, customer, case):
    response = token_client(customer).options(tus_url(case))
    assert response.status_code == 204
    assert response["Tus-Version"] == "1.0.0"
    assert set(response["Tus-Extension"].split(",")) == {"creation", "termination", "checksum", "expiration"}
    assert int(response["Tus-Max-Size"]) == 64 * 1024**3
    assert "sha256" in response["Tus-Checksum-Algorithm"]


def test_creation_then_chunks_store_the_file_with_its_sha256(
    tus_create, tus_patch, token_client, customer, case
):
    data = os.urandom(300_000)
    location = _created(tus_create(customer, case, len(data), filename="../../evil\r\nname.dmp"))
    assert location.startswith("http://testserver/api/cases/")
    first = tus_patch(customer, location, 0, data[:100_000], checksum=sha256_b64(data[:100_000]))
    assert first.status_code == 204
    assert first["Upload-Offset"] == "100000"
    assert "Upload-Expires" in first
    head = token_client(customer).head(location, **TUS)
    assert head.status_code == 200
    assert (head["Upload-Offset"], head["Upload-Length"], head["Cache-Control"]) == (
        "100000",
        "300000",
        "no-store",
    )
    assert head.content == b""
    last = tus_patch(customer, location, 100_000, data[100_000:])
    assert last.status_code == 204
    upload = Upload.objects.get()
    assert upload.state == Upload.State.STORED
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert upload.filename == "evil_name.dmp" or "\r" not in upload.filename
    assert "/" not in upload.filename
    assert upload.storage_name == f"cases/{case.number}/{upload.pk}"
    with storages["uploads"].open(upload.storage_name) as stored:
        assert stored.read() == data
    assert not files.spool_path(upload.pk).exists()
    assert AuditEvent.objects.filter(action="upload_stored", case=case).exists()


def test_location_works_with_and_without_trailing_slash(tus_create, token_client, customer, case):
    location = _created(tus_create(customer, case, 10))
    assert token_client(customer).head(location, **TUS).status_code == 200
    assert token_client(customer).head(location + "/", **TUS).status_code == 200


def test_no_credentials_is_401_with_tus_resumable(tus_create, customer, case):
    location = _created(tus_create(customer, case, 10))
    anonymous = Client()
    for method in ("post", "head", "patch", "delete", "options"):
        url = tus_url(case) if method in ("post", "options") else location
        response = getattr(anonymous, method)(url, **TUS)
        assert response.status_code == 401, method
        assert response["Tus-Resumable"] == "1.0.0"


def test_wrong_token_is_401(case):
    response = Client().post(tus_url(case), HTTP_AUTHORIZATION="Token nope", HTTP_UPLOAD_LENGTH="1", **TUS)
    assert response.status_code == 401


def test_other_organisation_gets_404_on_every_method(
    tus_create, tus_patch, token_client, customer, other_customer, case
):
    location = _created(tus_create(customer, case, 10))
    upload = Upload.objects.get()
    intruder = token_client(other_customer)
    assert tus_create(other_customer, case, 10).status_code == 404
    assert intruder.options(tus_url(case)).status_code == 404
    assert intruder.head(location, **TUS).status_code == 404
    assert intruder.options(location).status_code == 404
    assert tus_patch(other_customer, location, 0, b"x" * 10).status_code == 404
    assert intruder.delete(location, **TUS).status_code == 404
    assert intruder.get(f"/api/cases/{case.number}/uploads/").status_code == 404
    assert intruder.get(f"/api/uploads/{upload.pk}/").status_code == 404
    assert intruder.get(f"/api/uploads/{upload.pk}/download/").status_code == 404
    upload.refresh_from_db()
    assert upload.offset == 0 and upload.state == Upload.State.RECEIVING


def test_closed_case_is_403_with_a_reason(tus_create, tus_patch, customer, engineer, case):
    location = _created(tus_create(customer, case, 10))
    case_services.case_act(
        actor=engineer,
        case=case,
        name="close",
        data={
            "problem_description": "p",
            "analysis": "a",
            "resolution": "r",
            "resolution_type": "resolved",
        },
    )
    refused = tus_create(customer, case, 10)
    assert refused.status_code == 403
    assert "closed" in refused.json()["detail"]
    assert tus_patch(customer, location, 0, b"x" * 10).status_code == 403


def test_over_the_size_limit_is_413_with_the_figure(tus_create, settings, customer, case):
    settings.UPLOAD_MAX_SIZE = 1000
    response = tus_create(customer, case, 1001)
    assert response.status_code == 413
    assert (
        "1000" in response.json()["detail"]
        or "1,000" in response.json()["detail"]
        or "KB" in response.json()["detail"]
    )
    assert not Upload.objects.exists()


def test_case_quota_is_reserved_at_creation(tus_create, settings, customer, case):
    settings.UPLOAD_CASE_QUOTA = 2048
    _created(tus_create(customer, case, 1500))
    response = tus_create(customer, case, 1000)
    assert response.status_code == 413
    assert "case" in response.json()["detail"]
    assert "548" in response.json()["detail"]


def test_organisation_quota_is_413(tus_create, customer, case, organisation):
    organisation.quota_bytes = 5000
    organisation.save()
    response = tus_create(customer, case, 6000)
    assert response.status_code == 413
    assert "organisation" in response.json()["detail"]


def test_checksum_mismatch_is_460_and_the_chunk_is_discarded(
    tus_create, tus_patch, token_client, customer, case
):
    location = _created(tus_create(customer, case, 20))
    assert tus_patch(customer, location, 0, b"a" * 10, checksum=sha256_b64(b"a" * 10)).status_code == 204
    bad = tus_patch(customer, location, 10, b"b" * 10, checksum=sha256_b64(b"c" * 10))
    assert bad.status_code == 460
    assert token_client(customer).head(location, **TUS)["Upload-Offset"] == "10"
    upload = Upload.objects.get()
    assert os.path.getsize(files.spool_path(upload.pk)) == 10
    assert tus_patch(customer, location, 10, b"b" * 10, checksum=sha256_b64(b"b" * 10)).status_code == 204
    upload.refresh_from_db()
    assert upload.sha256 == hashlib.sha256(b"a" * 10 + b"b" * 10).hexdigest()


def test_disk_full_mid_chunk_is_507_and_the_chunk_is_cut_back(
    tus_create, tus_patch, token_client, customer, case, monkeypatch
):
    """A write that fails in the writer thread (ENOSPC on the chunk's second block) ends the PATCH with
    507; the spool file is cut back to the acknowledged offset, so a later retry stores the right bytes."""
    block = tus.BLOCK_SIZE
    first, second = os.urandom(block), os.urandom(3 * block)
    location = _created(tus_create(customer, case, len(first) + len(second)))
    assert tus_patch(customer, location, 0, first).status_code == 204
    real_write = tus._pwrite_all

    def disk_full_after_one_block(fd, data, position):
        if position >= 2 * block:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(fd, data, position)

    monkeypatch.setattr(tus, "_pwrite_all", disk_full_after_one_block)
    refused = tus_patch(customer, location, block, second, checksum=sha256_b64(second))
    assert refused.status_code == 507
    assert "nothing of it was kept" in refused.json()["detail"]
    upload = Upload.objects.get()
    assert token_client(customer).head(location, **TUS)["Upload-Offset"] == str(block)
    assert os.path.getsize(files.spool_path(upload.pk)) == block

    monkeypatch.setattr(tus, "_pwrite_all", real_write)
    assert tus_patch(customer, location, block, second, checksum=sha256_b64(second)).status_code == 204
    upload.refresh_from_db()
    assert upload.state == Upload.State.STORED
    assert upload.sha256 == hashlib.sha256(first + second).hexdigest()


def test_unsupported_checksum_algorithm_is_400(tus_create, tus_patch, customer, case):
    location = _created(tus_create(customer, case, 10))
    assert (
        tus_patch(customer, location, 0, b"a" * 10, checksum="md5 AAAAAAAAAAAAAAAAAAAAAA==").status_code
        == 400
    )


def test_wrong_offset_is_409_and_nothing_changes(tus_create, tus_patch, customer, case):
    location = _created(tus_create(customer, case, 20))
    assert tus_patch(customer, location, 0, b"a" * 10).status_code == 204
    replay = tus_patch(customer, location, 0, b"a" * 10)
    assert replay.status_code == 409
    ahead = tus_patch(customer, location, 15, b"a" * 5)
    assert ahead.status_code == 409
    assert Upload.objects.get().offset == 10


def test_past_the_declared_length_is_413(tus_create, tus_patch, customer, case):
    location = _created(tus_create(customer, case, 5))
    assert tus_patch(customer, location, 0, b"a" * 6).status_code == 413
    assert Upload.objects.get().offset == 0


def test_wrong_content_type_is_415_and_missing_version_is_412(
    tus_create, tus_patch, token_client, customer, case
):
    location = _created(tus_create(customer, case, 5))
    assert tus_patch(customer, location, 0, b"a" * 5, content_type="application/json").status_code == 415
    response = token_client(customer).head(location)
    assert response.status_code == 412
    assert response["Tus-Version"] == "1.0.0"


def test_expired_upload_is_410_then_swept_with_an_audit_entry(
    tus_create, tus_patch, token_client, customer, case, django_capture_on_commit_callbacks
):
    location = _created(tus_create(customer, case, 20))
    assert tus_patch(customer, location, 0, b"a" * 10).status_code == 204
    upload = Upload.objects.get()
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert token_client(customer).head(location, **TUS).status_code == 410
    assert tus_patch(customer, location, 10, b"a" * 10).status_code == 410
    with django_capture_on_commit_callbacks(execute=True):
        assert housekeeping.upload_expire_abandoned() == 1
    upload.refresh_from_db()
    assert upload.state == Upload.State.REJECTED and upload.content_deleted_at is not None
    assert not files.spool_path(upload.pk).exists()
    assert AuditEvent.objects.filter(action="upload_expired", case=case).exists()
    assert token_client(customer).head(location, **TUS).status_code == 410
    # The expired bytes no longer count against the quota.
    assert services.upload_quota_usage(case=case).case_used == 0


def test_a_failed_completion_loses_nothing(tus_create, tus_patch, token_client, customer, case, monkeypatch):
    """The last PATCH wrote and synced every byte, then moving the file into storage failed: a 500.
    PostgreSQL: the chunk's new offset was in that request's transaction, so it is not acknowledged and
    the client sends it again. SQLite (a file lock, no open transaction): the offset was committed, HEAD
    says every byte is in, and the server finishes the upload itself (the sweep below)."""
    data = os.urandom(20)
    location = _created(tus_create(customer, case, len(data)))
    real_store = files.store_file

    def storage_down(**_kwargs):
        raise ConnectionError("storage unreachable")

    monkeypatch.setattr(files, "store_file", storage_down)
    client = token_client(customer)
    client.raise_request_exception = False
    failed = client.generic(
        "PATCH", location, data, content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0", **TUS
    )
    assert failed.status_code == 500
    monkeypatch.setattr(files, "store_file", real_store)
    upload = Upload.objects.get()
    acknowledged = token_client(customer).head(location, **TUS)["Upload-Offset"]
    assert acknowledged == str(upload.offset)
    if connection.features.has_select_for_update_nowait:
        assert upload.offset == 0
        assert tus_patch(customer, location, 0, data).status_code == 204
    else:
        assert upload.offset == len(data)
        later = timezone.now() + housekeeping.STRANDED_AFTER + timedelta(minutes=1)
        assert housekeeping.upload_finish_stranded(now=later) == 1
    upload.refresh_from_db()
    assert upload.state == Upload.State.STORED
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert storages["uploads"].exists(upload.storage_name)


def test_an_upload_with_every_byte_in_is_finished_by_the_server_and_never_expired(tus_create, customer, case):
    """Every byte acknowledged but the upload not completed (a killed process, a lost finishing task):
    the client will not send anything again, so the expiry sweep leaves it alone and the finishing sweep
    stores it once no completion can still be running."""
    data = os.urandom(20)
    _created(tus_create(customer, case, len(data)))
    upload = Upload.objects.get()
    files.spool_path(upload.pk).write_bytes(data)
    services.upload_chunk_accepted(upload=upload, old_offset=0, new_offset=len(data))

    assert housekeeping.upload_finish_stranded() == 0  # too recent: a completion could still be running
    Upload.objects.filter(pk=upload.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert housekeeping.upload_expire_abandoned() == 0
    later = timezone.now() + housekeeping.STRANDED_AFTER + timedelta(minutes=1)
    assert housekeeping.upload_finish_stranded(now=later) == 1
    upload.refresh_from_db()
    assert upload.state == Upload.State.STORED
    assert upload.sha256 == hashlib.sha256(data).hexdigest()
    assert storages["uploads"].exists(upload.storage_name)
    assert AuditEvent.objects.filter(action="upload_stored", case=case).exists()


def test_with_object_storage_the_last_chunk_is_acknowledged_and_a_worker_stores_the_file(
    tus_create, tus_patch, customer, case, settings, django_capture_on_commit_callbacks
):
    """Copying a large dump to S3 takes minutes, past any request timeout: the last PATCH answers once
    the bytes are synced, and a task (with the running hash) completes the upload."""
    settings.STORAGES = {
        **settings.STORAGES,
        "uploads": {"BACKEND": "django.core.files.storage.InMemoryStorage"},  # no local path, like S3
    }
    data = os.urandom(30)
    location = _created(tus_create(customer, case, len(data)))
    with django_capture_on_commit_callbacks() as callbacks:
        assert tus_patch(customer, location, 0, data, checksum=sha256_b64(data)).status_code == 204
    upload = Upload.objects.get()
    assert (upload.state, upload.offset) == (Upload.State.RECEIVING, len(data))
    browser = Client()
    browser.force_login(customer)
    assert "every byte is in; being stored" in browser.get(f"/cases/{case.number}/upload/").content.decode()
    with mock.patch("uploads.tasks.upload_finish_task.apply_async") as delay:
        for callback in callbacks:
            callback()
    upload_id, sha256 = delay.call_args.kwargs["args"]
    assert sha256 == hashlib.sha256(data).hexdigest()

    assert tasks.upload_finish_task.run(upload_id, sha256) == Upload.State.STORED
    upload.refresh_from_db()
    assert upload.sha256 == sha256
    with storages["uploads"].open(upload.storage_name) as stored:
        assert stored.read() == data
    assert not files.spool_path(upload.pk).exists()
    # A redelivered message finds the upload stored and changes nothing.
    assert tasks.upload_finish_task.run(upload_id, sha256) == Upload.State.STORED
    assert AuditEvent.objects.filter(action="upload_stored", case=case).count() == 1


def test_a_stranded_upload_whose_bytes_are_gone_is_rejected_with_the_reason(tus_create, customer, case):
    _created(tus_create(customer, case, 10))
    upload = Upload.objects.get()
    services.upload_chunk_accepted(upload=upload, old_offset=0, new_offset=10)  # as if written, then lost
    files.spool_path(upload.pk).unlink()
    later = timezone.now() + housekeeping.STRANDED_AFTER + timedelta(minutes=1)
    assert housekeeping.upload_finish_stranded(now=later) == 1
    upload.refresh_from_db()
    assert upload.state == Upload.State.REJECTED
    assert "lost" in upload.rejection_reason
    assert AuditEvent.objects.filter(action="upload_lost", case=case).exists()


def test_termination_removes_the_upload(
    tus_create, tus_patch, token_client, customer, case, django_capture_on_commit_callbacks
):
    location = _created(tus_create(customer, case, 20))
    assert tus_patch(customer, location, 0, b"a" * 10).status_code == 204
    upload = Upload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert token_client(customer).delete(location, **TUS).status_code == 204
    assert token_client(customer).head(location, **TUS).status_code == 404
    assert not files.spool_path(upload.pk).exists()
    assert AuditEvent.objects.filter(action="upload_terminated").exists()


def test_cancelling_a_finished_upload_is_a_conflict_that_says_to_withdraw_it(
    tus_create, tus_patch, token_client, customer, case
):
    location = _created(tus_create(customer, case, 3))
    assert tus_patch(customer, location, 0, b"abc").status_code == 204
    response = token_client(customer).delete(location, **TUS)
    assert response.status_code == 409
    assert "withdraw" in response.json()["detail"]
    upload = Upload.objects.get()
    assert upload.state == Upload.State.STORED and upload.withdrawn_at is None
    assert not AuditEvent.objects.filter(action="upload_terminated").exists()


def test_another_customer_of_the_organisation_cannot_continue_my_upload(
    tus_create, tus_patch, customer, case, organisation
):

    colleague = CustomerFactory(username="carol", organisation=organisation)
    location = _created(tus_create(customer, case, 3))
    assert tus_patch(colleague, location, 0, b"abc").status_code == 403


def test_zero_length_upload_is_stored_at_creation(tus_create, customer, case):
    response = tus_create(customer, case, 0)
    assert response.status_code == 201
    upload = Upload.objects.get()
    assert upload.state == Upload.State.STORED
    assert upload.sha256 == hashlib.sha256(b"").hexdigest()


def test_session_patch_needs_the_csrf_token(tus_create, customer, case):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer)
    refused = browser.post(
        tus_url(case), HTTP_UPLOAD_LENGTH="3", HTTP_UPLOAD_METADATA=metadata("a.txt"), **TUS
    )
    assert refused.status_code == 403
    page = browser.get(f"/cases/{case.number}/upload/")
    token = page.context["csrf_token_value"]
    created = browser.post(
        tus_url(case),
        HTTP_UPLOAD_LENGTH="3",
        HTTP_UPLOAD_METADATA=metadata("a.txt"),
        HTTP_X_CSRFTOKEN=token,
        **TUS,
    )
    location = _created(created)
    no_token = browser.generic(
        "PATCH", location, b"abc", "application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0", **TUS
    )
    assert no_token.status_code == 403
    ok = browser.generic(
        "PATCH",
        location,
        b"abc",
        "application/offset+octet-stream",
        HTTP_UPLOAD_OFFSET="0",
        HTTP_X_CSRFTOKEN=token,
        **TUS,
    )
    assert ok.status_code == 204


def test_staff_may_upload_to_a_case(tus_create, engineer, case):
    _created(tus_create(engineer, case, 4))
