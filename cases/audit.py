"""The audit trail's one writer. Every ``AuditEvent``, in every app, is recorded by ``audit_record`` with
an ``AuditAction``; the action's label is the sentence the audit page, its CSV, the notifications and the
timeline show (``communications.notifications.event_text`` fills it in, in the reader's language).

Recording a case event is also what tells people of it: unless the action is a record only
(``RECORDS_ONLY``), ``audit_record`` queues ``communications.tasks.notify_case_event`` through the outbox
in the caller's transaction, and ``communications.notifications.ROUTES`` decides who hears of it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from cases.live import case_touch
from cases.models import AuditEvent, Case
from outbox.services import outbox_publish


class AuditAction(models.TextChoices):
    """What happened. The values are stored on every row (never rename one without a data migration);
    the labels are sentences with ``%(name)s`` placeholders filled from the event (its actor, its data)."""

    # Opening, assignment and the case's own fields
    CASE_OPENED = "case_opened", _("%(actor)s opened the case")
    CASE_ASSIGNED = "case_assigned", _("The case is assigned to %(to)s")
    CASE_REASSIGNED = "case_reassigned", _("The case is now handled by %(to)s (before: %(from)s)")
    CASE_UPDATED = "case_updated", _("%(actor)s edited the case")
    CASE_SPLIT = "case_split", _("%(actor)s split off case %(child)s")
    # Scope
    SCOPE_SAVED = "scope_saved", _("%(actor)s saved scope v%(version)s (draft)")
    SCOPING_STARTED = "scoping_started", _("%(actor)s started scoping")
    START_SCOPING = "start_scoping", _("%(actor)s started scoping")
    SEND_SCOPE = "send_scope", _("%(actor)s sent scope v%(version)s")
    SCOPE_ACCEPTED = "scope_accepted", _("%(actor)s accepted scope v%(version)s")
    SCOPE_OBJECTED = "scope_objected", _("%(actor)s objected to scope v%(version)s")
    # Investigation
    START_INVESTIGATION = "start_investigation", _("%(actor)s started the investigation")
    REQUEST_CUSTOMER = "request_customer", _("%(actor)s asks for information")
    EVIDENCE_REQUESTED = "evidence_requested", _("%(actor)s asks for a file: %(label)s")
    EVIDENCE_WITHDRAWN = "evidence_withdrawn", _("%(actor)s no longer needs: %(label)s")
    MESSAGE_ADDED = "message_added", _("New message from %(actor)s")
    NOTE_ADDED = "note_added", _("Internal note by %(actor)s")
    DOCUMENT_SENT = "document_sent", _("%(actor)s sent the %(document)s")
    # Uploads
    UPLOAD_STORED = "upload_stored", _("%(actor)s uploaded %(filename)s")
    UPLOAD_REJECTED = "upload_rejected", _("%(filename)s was refused")
    UPLOAD_WITHDRAWN = "upload_withdrawn", _("%(actor)s withdrew %(filename)s")
    UPLOAD_DELETED = "upload_deleted", _("%(actor)s deleted %(filename)s")
    UPLOAD_DOWNLOADED = "upload_downloaded", _("%(actor)s downloaded %(filename)s")
    UPLOAD_ARCHIVE_EXPANDED = "upload_archive_expanded", _("%(filename)s was unpacked")
    UPLOAD_CONTENT_DELETED = (
        "upload_content_deleted",
        _("The file %(filename)s was deleted after the retention period"),
    )
    UPLOAD_TERMINATED = "upload_terminated", _("%(actor)s cancelled the upload of %(filename)s")
    UPLOAD_EXPIRED = "upload_expired", _("The unfinished upload of %(filename)s expired")
    UPLOAD_LOST = "upload_lost", _("The bytes of %(filename)s were lost before it was stored")
    UPLOAD_SCANNED = "upload_scanned", _("%(filename)s was scanned: no virus found")
    UPLOAD_INFECTED = "upload_infected", _("%(filename)s was quarantined: the virus scanner found a virus")
    UPLOAD_SCAN_FAILED = "upload_scan_failed", _("%(filename)s could not be scanned")
    # Analysis
    ANALYSIS_DONE = "analysis_done", _("Analysis done")
    ANALYSIS_RERUN = "analysis_rerun", _("%(actor)s ran the analysis of %(filename)s again")
    # Resolution
    PROPOSE_RESOLUTION = "propose_resolution", _("%(actor)s proposed a resolution")
    RESUME_INVESTIGATION = (
        "resume_investigation",
        _("%(actor)s withdrew the proposed resolution and resumed the investigation"),
    )
    RESOLUTION_ACCEPTED = "resolution_accepted", _("%(actor)s confirmed the proposed resolution")
    RESOLUTION_REJECTED = "resolution_rejected", _("%(actor)s rejected the proposed resolution")
    RESOLUTION_REMINDER = (
        "resolution_reminder",
        _("Reminder: the proposed resolution is waiting for your answer"),
    )
    CLOSE = "close", _("%(actor)s closed the case (%(resolution)s)")
    REOPEN = "reopen", _("%(actor)s reopened the case")
    # Invitations of customer contacts
    INVITATION_SENT = "invitation_sent", _("%(actor)s invited %(email)s")
    INVITATION_REVOKED = "invitation_revoked", _("%(actor)s revoked the invitation of %(email)s")
    INVITATION_ACCEPTED = "invitation_accepted", _("%(actor)s accepted the invitation sent to %(email)s")
    # Managers' oversight
    SUMMARY_APPROVED = "summary_approved", _("%(actor)s approved summary v%(version)s")
    SUMMARY_RETURNED = "summary_returned", _("%(actor)s returned summary v%(version)s to the engineer")
    SUMMARY_REWRITTEN = "summary_rewritten", _("%(actor)s rewrote the summary as v%(version)s")
    SERVICE_TARGET_SAVED = "service_target_saved", _("%(actor)s saved the service-level targets %(target)s")
    CALENDAR_SAVED = "calendar_saved", _("%(actor)s saved the business-hours calendar %(calendar)s")
    EXPORT_REVIEW_CSV = "export_review_csv", _("%(actor)s exported the review queue (CSV)")
    EXPORT_AUDIT_CSV = "export_audit_csv", _("%(actor)s exported the audit trail (CSV)")
    EXPORT_SUMMARY_PDF = "export_summary_pdf", _("%(actor)s downloaded the summary as PDF")
    # Sign-in and API tokens
    LOGIN = "login", _("%(actor)s signed in")
    LOGOUT = "logout", _("%(actor)s signed out")
    LOGIN_FAILED = "login_failed", _("Failed sign-in as %(username)s")
    LOGIN_LOCKOUT_LIFTED = "login_lockout_lifted", _("%(actor)s lifted the sign-in lockout of %(username)s")
    TWO_FACTOR_FAILED = "two_factor_failed", _("%(actor)s gave a wrong second-factor code")
    SSO_LOGIN = "sso_login", _("%(actor)s signed in through %(provider)s")
    SSO_REFUSED = "sso_refused", _("Sign-in through %(provider)s refused")
    API_TOKEN_CREATED = "api_token_created", _("%(actor)s created an API token")
    API_TOKEN_REVOKED = "api_token_revoked", _("An API token of %(actor)s was revoked")


# Records, not news: nobody is told of them (downloads, exports and housekeeping would flood the owner's
# inbox). Every other case event is notified as ``communications.notifications.ROUTES`` says.
RECORDS_ONLY = frozenset(
    {
        AuditAction.UPLOAD_DOWNLOADED,
        AuditAction.UPLOAD_ARCHIVE_EXPANDED,
        AuditAction.UPLOAD_CONTENT_DELETED,
        AuditAction.UPLOAD_TERMINATED,
        AuditAction.UPLOAD_EXPIRED,
        AuditAction.UPLOAD_LOST,
        AuditAction.UPLOAD_SCANNED,
        AuditAction.UPLOAD_SCAN_FAILED,
        AuditAction.ANALYSIS_RERUN,
        AuditAction.EXPORT_REVIEW_CSV,
        AuditAction.EXPORT_AUDIT_CSV,
        AuditAction.EXPORT_SUMMARY_PDF,
    }
)

NOTIFY_TASK = "communications.tasks.notify_case_event"


def audit_record(
    *,
    action: AuditAction | str,
    actor: User | None,
    case: Case | None = None,
    from_state: str = "",
    to_state: str = "",
    customer_visible: bool = False,
    data: dict[str, object] | None = None,
) -> AuditEvent:
    """Record who did what (``action`` must be an ``AuditAction``: free text raises ``ValueError``). For a
    case event, raise the case's live version and, unless it is a record only, queue its notifications
    through the outbox: published once the caller's transaction commits, never if it rolls back."""
    action = AuditAction(action)
    event = AuditEvent.objects.create(
        case=case,
        actor=actor,
        action=action.value,
        from_state=from_state,
        to_state=to_state,
        customer_visible=customer_visible,
        data=data or {},
    )
    if case is not None:
        case_touch(case_id=case.pk)
        if action not in RECORDS_ONLY:
            # An outbox row of the caller's transaction: the notification is owed once the change
            # commits, whatever the broker does then (docs/pipeline.md, "Outbox").
            outbox_publish(task=NOTIFY_TASK, args=[event.pk], key=f"notify_case_event:{event.pk}")
    return event
