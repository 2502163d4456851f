"""The audit trail reads as sentences: each ``AuditAction``'s label, filled in from the event, on the
audit page and in its CSV, in the reader's language; the stored action names never change."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import translation

from cases.audit import AuditAction, audit_record
from cases.models import AuditEvent
from communications.notifications import event_text

pytestmark = pytest.mark.django_db

# The action names stored before the enum existed: rows in every database hold them.
STORED_BEFORE = [
    "case_opened",
    "case_assigned",
    "case_reassigned",
    "case_updated",
    "case_split",
    "scope_saved",
    "scoping_started",
    "start_scoping",
    "send_scope",
    "scope_accepted",
    "scope_objected",
    "start_investigation",
    "request_customer",
    "evidence_requested",
    "evidence_withdrawn",
    "message_added",
    "note_added",
    "document_sent",
    "upload_stored",
    "upload_rejected",
    "upload_withdrawn",
    "upload_deleted",
    "upload_downloaded",
    "upload_archive_expanded",
    "upload_content_deleted",
    "upload_terminated",
    "upload_expired",
    "upload_lost",
    "upload_scanned",
    "upload_infected",
    "upload_scan_failed",
    "analysis_done",
    "analysis_rerun",
    "propose_resolution",
    "resume_investigation",
    "resolution_accepted",
    "resolution_rejected",
    "resolution_reminder",
    "close",
    "reopen",
    "invitation_sent",
    "invitation_revoked",
    "invitation_accepted",
    "summary_approved",
    "summary_returned",
    "summary_rewritten",
    "service_target_saved",
    "calendar_saved",
    "export_review_csv",
    "export_audit_csv",
    "export_summary_pdf",
    "login",
    "logout",
    "login_failed",
    "login_lockout_lifted",
    "two_factor_failed",
    "sso_login",
    "sso_refused",
    "api_token_created",
    "api_token_revoked",
]

EVERY_KEY = {
    "filename": "MEMORY.DMP",
    "label": "System log",
    "version": 2,
    "child": "CAS-00002-ABCDEF",
    "email": "bob@example.com",
    "username": "mallory",
    "provider": "contoso-sso",
    "calendar": "Shanghai",
    "target": "high",
    "to": "engineer",
    "from": "engineer2",
    "resolution_type": "resolved",
    "kind": "findings",
}


def test_the_stored_action_names_are_the_enum_values():
    assert sorted(AuditAction.values) == sorted(STORED_BEFORE)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_every_action_reads_as_a_whole_translated_sentence(language, engineer):
    engineer.first_name, engineer.last_name = "Wei", "Zhang"
    for action in AuditAction:
        event = AuditEvent(action=action.value, actor=engineer, data=EVERY_KEY)
        with translation.override(language):
            text = event_text(event)
        assert "%(" not in text and "—" not in text, (action, text)
        if language == "zh-hans":
            with translation.override("en"):
                assert text != event_text(event), f"{action} is not translated"


@pytest.fixture
def events(case, customer, engineer):
    audit_record(
        case=case, actor=customer, action=AuditAction.UPLOAD_DOWNLOADED, data={"filename": "MEMORY.DMP"}
    )
    audit_record(case=case, actor=engineer, action=AuditAction.SCOPE_SAVED, data={"version": 3})


@pytest.mark.parametrize(
    ("language", "downloaded", "saved"),
    [
        ("en", "alice downloaded MEMORY.DMP", "engineer saved scope v3 (draft)"),
        ("zh-hans", "alice 下载了 MEMORY.DMP", "engineer 保存了范围 v3（草稿）"),
    ],
)
def test_the_audit_page_and_its_csv_show_the_sentences(client, manager, events, language, downloaded, saved):
    manager.language = language
    manager.save(update_fields=["language"])
    client.force_login(manager)
    page = client.get("/audit/").content.decode()
    assert downloaded in page and saved in page
    response = client.get("/audit/export.csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert {downloaded, saved} <= {row[4] for row in rows[1:]}
    assert {"upload_downloaded", "scope_saved"} <= {row[5] for row in rows[1:]}


def test_only_managers_read_the_audit_trail(client, customer, engineer):
    for user in (customer, engineer):
        client.force_login(user)
        assert client.get("/audit/").status_code == 403
        assert client.get("/audit/export.csv").status_code == 403
