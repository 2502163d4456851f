"""Uploads a person can manage: a copy of a file already in the case is flagged and not analysed again; an
unfinished upload is cancelled, a stored one withdrawn by its uploader or deleted by staff with a reason,
each refusal with a clear answer and nothing changed."""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.test import Client
from django.utils import timezone

from analysis import case_findings, queueing
from analysis import tasks as analysis_tasks
from analysis.models import AnalysisJob, Crash, Finding
from cases import services as case_services
from cases.errors import InvalidState
from cases.models import AuditEvent, Case
from communications.notifications import notification_email, notification_recipients
from outbox.models import OutboxMessage
from tests.factories import CustomerFactory, UserFactory
from uploads import archives, housekeeping, services
from uploads.models import Upload

pytestmark = pytest.mark.django_db

OOPS = b"""\
[ 8123.456789] BUG: kernel NULL pointer dereference, address: 0000000000000000
[ 8123.456822] Oops: 0000 [#1] PREEMPT SMP NOPTI
[ 8123.456830] CPU: 3 PID: 1234 Comm: feh Tainted: P           OE     6.1.0-18-amd64 #1  Debian 6.1.76-1
[ 8123.456850] RIP: 0010:amdgpu_dm_commit+0x12/0x40 [amdgpu]
[ 8123.456880] Call Trace:
[ 8123.456885]  <TASK>
[ 8123.456900]  amdgpu_dm_commit+0x12/0x40 [amdgpu]
[ 8123.456910]  drm_atomic_commit+0xa8/0xd0 [drm]
[ 8123.456950]  </TASK>
[ 8123.456960] Modules linked in: amdgpu(OE) nvidia(POE) drm_kms_helper drm
[ 8123.456980] ---[ end trace 0000000000000000 ]---
"""


def zipfile_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def send(tus_create, tus_patch, customer, case, django_capture_on_commit_callbacks):
    """Upload bytes through tus as ``user`` (the customer by default); analysis jobs are created but their
    tasks are not published (the on-commit callbacks are captured, not run)."""

    def _send(data: bytes, name: str = "MEMORY.DMP", user=None, on_case=None) -> Upload:
        user = user or customer
        with django_capture_on_commit_callbacks():
            location = tus_create(user, on_case or case, len(data), filename=name)["Location"]
            assert tus_patch(user, location, 0, data).status_code == 204
        return Upload.objects.get(pk=location.rstrip("/").rsplit("/", 1)[1])

    return _send


def _analyse(upload: Upload) -> AnalysisJob:
    job = AnalysisJob.objects.get(upload=upload)
    analysis_tasks.analyse_upload(job.pk)
    job.refresh_from_db()
    return job


def _page(user, case) -> str:
    browser = Client()
    browser.force_login(user)
    return browser.get(f"/cases/{case.number}/upload/").content.decode()


# -- duplicates -------------------------------------------------------------------------------------------


def test_the_same_file_twice_is_flagged_at_once_and_not_analysed_again(send, token_client, customer, case):
    first = send(b"PAGEDU64" + b"\x01" * 3000, name="MEMORY.DMP")
    again = send(b"PAGEDU64" + b"\x01" * 3000, name="MEMORY (1).DMP")
    assert first.duplicate_of is None
    assert again.duplicate_of_id == first.pk
    assert AnalysisJob.objects.filter(upload=first).count() == 1
    assert AnalysisJob.objects.filter(upload=again).count() == 0
    api = token_client(customer)
    assert api.get(f"/api/uploads/{again.pk}/").json()["duplicate_of"] == str(first.pk)
    assert api.get(f"/api/uploads/{first.pk}/").json()["duplicate_of"] is None
    listed = {
        item["id"]: item["duplicate_of"]
        for item in api.get(f"/api/cases/{case.number}/uploads/").json()["results"]
    }
    assert listed == {str(first.pk): None, str(again.pk): str(first.pk)}
    stored = AuditEvent.objects.filter(action="upload_stored", data__upload=str(again.pk)).get()
    assert stored.data["duplicate_of"] == str(first.pk)


def test_a_copy_shows_the_analysis_of_the_first_and_cannot_be_analysed_again(
    send, token_client, customer, engineer
):
    first = send(OOPS, name="dmesg.txt")
    again = send(OOPS, name="dmesg-again.txt")
    job = _analyse(first)
    analysis = token_client(customer).get(f"/api/uploads/{again.pk}/").json()["analysis"]
    assert analysis["id"] == job.pk and analysis["state"] == AnalysisJob.State.DONE
    with pytest.raises(InvalidState) as refused:
        queueing.job_rerun(actor=engineer, upload=again)
    assert "dmesg.txt" in refused.value.message
    assert not Crash.objects.filter(upload=again).exists()


def test_the_same_name_with_another_size_is_not_a_duplicate(send):
    first = send(b"one version of the log", name="System.log")
    other = send(b"another, longer version of the log", name="System.log")
    assert other.duplicate_of is None
    assert AnalysisJob.objects.filter(upload=other).count() == 1
    assert first.duplicate_of is None


def test_the_same_bytes_in_another_case_are_not_a_duplicate(send, engineer, organisation, customer):

    other_case = case_services.case_create(
        actor=engineer, organisation=organisation, title="Another", customer_contact=customer, owner=engineer
    )
    send(b"identical bytes")
    elsewhere = send(b"identical bytes", on_case=other_case)
    assert elsewhere.duplicate_of is None


def test_the_upload_page_and_the_case_page_say_which_file_it_repeats(send, customer, engineer, case):
    customer.first_name, customer.last_name = "Alice", "Chen"
    customer.save()
    first = send(b"same bytes", name="first.log")
    send(b"same bytes", name="second.log")
    date = first.created_at.strftime("%Y-%m-%d")
    for page in (_page(customer, case), _page(engineer, case)):
        assert "The same file as" in page and "first.log" in page and "Alice Chen" in page and date in page
    browser = Client()
    browser.force_login(engineer)
    case_page = browser.get(f"/cases/{case.number}/").content.decode()
    assert "The same file as" in case_page and f"#upload-{first.pk}" in case_page


def test_an_archive_sent_twice_is_expanded_once_and_a_repeated_member_is_flagged(send, case):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a/System.log", b"the same log")
        archive.writestr("b/System.log", b"the same log")
    data = buffer.getvalue()
    first = send(data, name="logs.zip")
    archives.archive_expand(upload_id=str(first.pk))
    members = list(Upload.objects.filter(parent=first).order_by("filename"))
    assert [m.duplicate_of_id for m in members] == [None, members[0].pk]
    again = send(data, name="logs-again.zip")
    assert again.duplicate_of_id == first.pk
    archives.archive_expand(upload_id=str(again.pk))
    assert not Upload.objects.filter(parent=again).exists()


# -- cancel -----------------------------------------------------------------------------------------------


def test_delete_on_an_unfinished_upload_cancels_it(tus_create, token_client, customer, case):
    location = tus_create(customer, case, 100)["Location"]
    upload_id = location.rstrip("/").rsplit("/", 1)[1]
    assert token_client(customer).delete(f"/api/uploads/{upload_id}/").status_code == 204
    assert not Upload.objects.filter(pk=upload_id).exists()
    assert AuditEvent.objects.filter(action="upload_terminated", data__upload=upload_id).exists()


def test_the_page_cancels_an_abandoned_upload_and_refuses_to_cancel_a_finished_one(
    tus_create, send, customer, case
):
    browser = Client()
    browser.force_login(customer)
    location = tus_create(customer, case, 100, filename="half.dmp")["Location"]
    upload_id = location.rstrip("/").rsplit("/", 1)[1]
    page = _page(customer, case)
    assert f'id="cancel-{upload_id}"' in page and f'id="resume-{upload_id}"' in page
    response = browser.post(f"/uploads/{upload_id}/withdraw/", {"action": "cancel"}, follow=True)
    assert "The upload of half.dmp was cancelled." in response.content.decode()
    assert not Upload.objects.filter(pk=upload_id).exists()

    finished = send(b"all of it", name="done.log")
    response = browser.post(f"/uploads/{finished.pk}/withdraw/", {"action": "cancel"}, follow=True)
    assert "nothing to cancel" in response.content.decode()
    finished.refresh_from_db()
    assert finished.withdrawn_at is None and finished.content_deleted_at is None


# -- withdraw and delete ----------------------------------------------------------------------------------


def test_a_customer_withdraws_their_own_file_and_its_record_stays(
    send, token_client, customer, case, django_capture_on_commit_callbacks
):
    upload = send(b"sent by mistake", name="secret.txt")
    AnalysisJob.objects.filter(upload=upload).update(state=AnalysisJob.State.DONE)
    name = upload.storage_name
    version = Case.objects.get(pk=case.pk).live_version
    used = services.upload_quota_usage(case=case).case_used
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(customer).delete(f"/api/uploads/{upload.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert body["withdrawn_at"] and body["withdrawn_by"] == customer.username and body["download_url"] is None
    assert (body["filename"], body["size"], body["sha256"]) == (
        "secret.txt",
        15,
        hashlib.sha256(b"sent by mistake").hexdigest(),
    )
    assert not storages["uploads"].exists(name)
    assert services.upload_quota_usage(case=case).case_used == used - 15
    assert Case.objects.get(pk=case.pk).live_version > version
    event = AuditEvent.objects.get(action="upload_withdrawn")
    assert event.actor == customer and event.customer_visible and event.data["sha256"] == upload.sha256
    assert token_client(customer).get(f"/api/uploads/{upload.pk}/download/").status_code == 410
    page = _page(customer, case)
    assert "secret.txt" in page and "Withdrawn" in page


def test_findings_of_a_withdrawn_file_leave_the_case(send, token_client, customer, case):
    kept = send(OOPS.replace(b"feh", b"Xorg"), name="kept.txt")
    gone = send(OOPS, name="gone.txt")
    _analyse(kept)
    _analyse(gone)
    assert Crash.objects.filter(upload=gone).exists()
    assert token_client(customer).delete(f"/api/uploads/{gone.pk}/").status_code == 200
    assert not Crash.objects.filter(upload=gone).exists()
    assert not Finding.objects.filter(upload=gone).exists()
    assert Crash.objects.filter(upload=kept).exists()
    # The case-level findings are those of the crashes that remain, as a fresh computation gives them.
    remaining = list(Finding.objects.filter(case=case, upload__isnull=True).values_list("code", "title"))
    case_findings.case_findings_recompute(case=case)
    assert remaining == list(
        Finding.objects.filter(case=case, upload__isnull=True).values_list("code", "title")
    )
    assert all(
        crash.upload_id == kept.pk
        for finding in Finding.objects.filter(case=case, upload__isnull=True)
        for crash in finding.crashes.all()
    )


def test_withdrawing_someone_elses_file_is_refused_and_changes_nothing(
    send, token_client, organisation, other_customer, account_manager, case
):
    upload = send(b"alice's file")
    AnalysisJob.objects.filter(upload=upload).update(state=AnalysisJob.State.DONE)
    colleague = CustomerFactory(username="carol", organisation=organisation)
    response = token_client(colleague).delete(f"/api/uploads/{upload.pk}/")
    assert response.status_code == 403
    assert "Only the person who uploaded this file" in response.json()["detail"]
    assert token_client(other_customer).delete(f"/api/uploads/{upload.pk}/").status_code == 404
    assert (
        token_client(account_manager).delete(f"/api/uploads/{upload.pk}/", {"reason": "x"}).status_code == 403
    )
    browser = Client()
    browser.force_login(colleague)
    response = browser.post(f"/uploads/{upload.pk}/withdraw/", {"action": "withdraw"}, follow=True)
    assert "Only the person who uploaded this file" in response.content.decode()
    upload.refresh_from_db()
    assert upload.withdrawn_at is None and upload.content_deleted_at is None
    assert storages["uploads"].exists(upload.storage_name)
    assert not AuditEvent.objects.filter(action__in=["upload_withdrawn", "upload_deleted"]).exists()


def test_staff_delete_any_file_with_a_reason_and_the_customer_is_told(
    send, token_client, engineer, customer, case, django_capture_on_commit_callbacks
):
    upload = send(b"a dump with passwords in it", name="LSASS.DMP")
    AnalysisJob.objects.filter(upload=upload).update(state=AnalysisJob.State.DONE)
    response = token_client(engineer).delete(f"/api/uploads/{upload.pk}/")
    assert response.status_code == 400 and "reason" in response.json()["detail"]
    upload.refresh_from_db()
    assert upload.withdrawn_at is None
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(engineer).delete(
            f"/api/uploads/{upload.pk}/", {"reason": "Holds credentials"}, format="json"
        )
    assert response.status_code == 200 and response.json()["withdrawal_reason"] == "Holds credentials"
    event = AuditEvent.objects.get(action="upload_deleted")
    assert event.actor == engineer and event.data["reason"] == "Holds credentials"
    assert customer in notification_recipients(event)
    mail = notification_email(event, customer)
    assert "LSASS.DMP" in mail.subject and "Holds credentials" in mail.text
    page = _page(customer, case)
    assert "Deleted" in page and "Holds credentials" in page


def test_the_engineer_hears_of_a_withdrawal(send, token_client, customer, engineer):
    upload = send(b"oops")
    AnalysisJob.objects.filter(upload=upload).update(state=AnalysisJob.State.DONE)
    token_client(customer).delete(f"/api/uploads/{upload.pk}/")
    event = AuditEvent.objects.get(action="upload_withdrawn")
    assert engineer in notification_recipients(event)


@pytest.mark.parametrize("job_state", [AnalysisJob.State.QUEUED, AnalysisJob.State.RUNNING])
def test_a_file_under_analysis_cannot_be_withdrawn(send, token_client, customer, case, job_state):
    upload = send(b"being analysed")
    AnalysisJob.objects.filter(upload=upload).update(state=job_state)
    response = token_client(customer).delete(f"/api/uploads/{upload.pk}/")
    assert response.status_code == 409 and "being analysed" in response.json()["detail"]
    upload.refresh_from_db()
    assert upload.withdrawn_at is None and storages["uploads"].exists(upload.storage_name)
    page = _page(customer, case)
    assert "Can be withdrawn once its analysis has finished." in page
    browser = Client()
    browser.force_login(customer)
    response = browser.post(f"/uploads/{upload.pk}/withdraw/", {"action": "withdraw"}, follow=True)
    assert "being analysed" in response.content.decode()


def test_a_file_held_for_the_virus_scan_or_an_archive_being_expanded_cannot_be_withdrawn(
    send, token_client, customer
):
    held = send(b"held")
    Upload.objects.filter(pk=held.pk).update(scan=Upload.Scan.PENDING)
    response = token_client(customer).delete(f"/api/uploads/{held.pk}/")
    assert response.status_code == 409 and "virus scanner" in response.json()["detail"]
    archive = send(zipfile_bytes({"x.log": b"x"}), name="x.zip")
    assert archive.kind == Upload.Kind.ARCHIVE
    response = token_client(customer).delete(f"/api/uploads/{archive.pk}/")
    assert response.status_code == 409 and "being expanded" in response.json()["detail"]


def test_withdrawing_twice_is_a_conflict(send, token_client, customer):
    upload = send(b"once")
    AnalysisJob.objects.filter(upload=upload).update(state=AnalysisJob.State.DONE)
    assert token_client(customer).delete(f"/api/uploads/{upload.pk}/").status_code == 200
    response = token_client(customer).delete(f"/api/uploads/{upload.pk}/")
    assert response.status_code == 409 and "already withdrawn" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="upload_withdrawn").count() == 1


def test_withdrawing_the_first_copy_hands_the_analysis_to_the_next(send, token_client, customer):

    first = send(b"the same dump", name="one.dmp")
    second = send(b"the same dump", name="two.dmp")
    third = send(b"the same dump", name="three.dmp")
    AnalysisJob.objects.filter(upload=first).update(state=AnalysisJob.State.DONE)
    assert token_client(customer).delete(f"/api/uploads/{first.pk}/").status_code == 200
    second.refresh_from_db()
    third.refresh_from_db()
    assert second.duplicate_of is None and third.duplicate_of_id == second.pk
    job = AnalysisJob.objects.get(upload=second)
    assert OutboxMessage.objects.filter(task="analysis.tasks.analyse_upload", args=[job.pk]).exists()
    assert not AnalysisJob.objects.filter(upload=third).exists()


def test_withdrawing_an_archive_takes_its_members(
    send, token_client, customer, django_capture_on_commit_callbacks
):
    archive = send(zipfile_bytes({"a.log": b"a", "b.log": b"b"}), name="logs.zip")
    with django_capture_on_commit_callbacks():
        archives.archive_expand(upload_id=str(archive.pk))
    AnalysisJob.objects.update(state=AnalysisJob.State.DONE)
    members = list(Upload.objects.filter(parent=archive))
    with django_capture_on_commit_callbacks(execute=True):
        response = token_client(customer).delete(f"/api/uploads/{archive.pk}/")
    assert response.status_code == 200
    for member in members:
        member.refresh_from_db()
        assert member.withdrawn_at is not None and not storages["uploads"].exists(member.storage_name)
    assert AuditEvent.objects.get(action="upload_withdrawn").data["members"] == 2


def test_retention_leaves_a_withdrawn_record_as_it_is(send, token_client, customer, engineer, case):

    upload = send(b"withdrawn then closed")
    AnalysisJob.objects.filter(upload=upload).update(state=AnalysisJob.State.DONE)
    token_client(customer).delete(f"/api/uploads/{upload.pk}/")
    Case.objects.filter(pk=case.pk).update(state="closed", closed_at=timezone.now() - timedelta(days=400))
    assert housekeeping.upload_retention_apply() == 0
    upload.refresh_from_db()
    assert (upload.filename, upload.size, upload.sha256) == (
        "MEMORY.DMP",
        len(b"withdrawn then closed"),
        hashlib.sha256(b"withdrawn then closed").hexdigest(),
    )


def test_staff_see_delete_with_a_reason_and_customers_withdraw_only_their_own(
    send, customer, engineer, organisation, case
):
    mine = send(b"mine")
    colleague = CustomerFactory(username="carol", organisation=organisation)
    theirs = send(b"theirs", user=colleague)
    AnalysisJob.objects.update(state=AnalysisJob.State.DONE)
    page = _page(customer, case)
    assert f'id="remove-summary-{mine.pk}"' in page and f'id="remove-summary-{theirs.pk}"' not in page
    assert "Why (optional)" in page
    staff_page = _page(engineer, case)
    assert f'id="remove-summary-{mine.pk}"' in staff_page and f'id="remove-summary-{theirs.pk}"' in staff_page
    assert "Why is it deleted? (required)" in staff_page
    tam = UserFactory(username="tam2", role="account_manager")
    organisation.account_managers.add(tam)
    assert "remove-summary-" not in _page(tam, case)
