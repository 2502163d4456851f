"""The audit trail (cases.models.AuditEvent) holds every read of an upload's content, every download,
every change of a case and every failed sign-in, with who and what (issue 8, "Audit")."""

from __future__ import annotations

import pytest
from django.test import Client

from analysis.queueing import job_queue_for_upload
from analysis.tasks import analyse_upload
from cases import conversation, services
from cases.models import AuditEvent
from tests.factories import PASSWORD
from tests.pipeline.conftest import store_upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(case, customer):
    return store_upload(
        case=case, content=b"BUG: kernel NULL pointer", filename="dmesg.txt", uploaded_by=customer
    )


def _new_events(before: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.order_by("id")[before:])


def test_every_download_page_and_api_is_audited_with_who_and_which_file(
    upload, engineer, customer, token_client
):
    browser = Client()
    browser.force_login(engineer)
    b"".join(browser.get(f"/uploads/{upload.pk}/download/").streaming_content)
    b"".join(token_client(customer).get(f"/api/uploads/{upload.pk}/download/").streaming_content)
    events = AuditEvent.objects.filter(action="upload_downloaded", case=upload.case).order_by("id")
    assert [(e.actor, e.data["upload"], e.data["sha256"]) for e in events] == [
        (engineer, str(upload.pk), upload.sha256),
        (customer, str(upload.pk), upload.sha256),
    ]


def test_refused_downloads_leave_no_false_download_entry(upload, other_customer):
    browser = Client()
    browser.force_login(other_customer)
    assert browser.get(f"/uploads/{upload.pk}/download/").status_code == 404
    assert not AuditEvent.objects.filter(action="upload_downloaded").exists()


def test_machine_reads_of_the_content_are_audited(upload, django_capture_on_commit_callbacks):
    """The analysis worker reading the file leaves ``analysis_done`` (or the failure) on the case."""
    job = job_queue_for_upload(upload=upload)
    analyse_upload(job.pk)
    assert AuditEvent.objects.filter(action="analysis_done", case=upload.case, data__job=job.pk).exists()


def test_every_change_of_a_case_is_audited(case, engineer, customer, other_engineer):
    steps = [
        ("case_update", lambda: services.case_update(actor=engineer, case=case, title="New title")),
        (
            "case_assign",
            lambda: services.case_assign(actor=engineer, case=case, owner=other_engineer, reason="leave"),
        ),
        (
            "scope_save",
            lambda: services.scope_save(
                actor=engineer, case=case, problem_definition="p", scope="s", next_steps="n"
            ),
        ),
        ("send_scope", lambda: services.case_transition(actor=engineer, case=case, name="send_scope")),
        (
            "scope_acknowledge",
            lambda: conversation.scope_acknowledge(actor=customer, case=case, accepted=True),
        ),
        ("timeline_add", lambda: services.timeline_add(actor=customer, case=case, body="It crashed again")),
        ("internal note", lambda: services.timeline_add(actor=engineer, case=case, body="x", internal=True)),
        ("split", lambda: services.case_split(actor=engineer, case=case, title="Second problem")),
        (
            "close",
            lambda: services.case_act(
                actor=engineer,
                case=case,
                name="close",
                data={
                    "problem_description": "p",
                    "analysis": "a",
                    "resolution": "r",
                    "resolution_type": "resolved",
                },
            ),
        ),
        (
            "reopen",
            lambda: services.case_act(actor=engineer, case=case, name="reopen", data={"message": "again"}),
        ),
    ]
    missing = []
    for label, step in steps:
        before = AuditEvent.objects.count()
        case.refresh_from_db()
        step()
        if not [e for e in _new_events(before) if e.case_id == case.pk and e.actor_id is not None]:
            missing.append(label)
    assert missing == [], f"case changes without an audit entry: {missing}"


def test_every_failed_sign_in_is_audited_without_the_password(client, customer, api_client):
    client.post("/accounts/login/", {"username": "alice", "password": "wrong-1"})
    client.post("/accounts/login/", {"username": "nobody", "password": "wrong-2"})
    api_client.post("/api/token/", {"username": "alice", "password": "wrong-3"})
    failures = AuditEvent.objects.filter(action="login_failed")
    assert sorted(e.data["username"] for e in failures) == ["alice", "alice", "nobody"]
    assert not any("wrong-" in str(e.data) for e in failures)


def test_attempts_while_locked_out_are_audited(client, customer):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "alice", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    # Even the right password, refused by the lockout, is an attempt the trail must show.
    assert AuditEvent.objects.filter(action="login_failed").count() >= 6
