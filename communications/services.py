"""Writes of the communications app: sending documents, e-mail deliveries, notifications, preferences and
evidence requests (STYLE.md rules 2 and 4: one transaction each, side effects after the commit)."""

from __future__ import annotations

import logging
import socket
from smtplib import SMTPException

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.capabilities import can_see_internal, can_work_cases
from accounts.models import User
from cases import conversation
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, NotAllowed
from cases.live import case_touch
from cases.models import AuditEvent, Case, State, TimelineEntry
from cases.selectors import case_current_scope, case_visible_to
from communications import notifications, selectors
from communications.documents import LANGUAGES, placeholders_in
from communications.evidence import PRESETS
from communications.models import (
    DocumentKind,
    EmailDelivery,
    EvidenceItem,
    Notification,
    NotificationKind,
    NotificationPreference,
    SentDocument,
)
from inbound.addresses import NOTE, REPLY, message_id_new, reply_address_for, thread_id
from uploads.models import Upload

logger = logging.getLogger(__name__)

# Errors worth another attempt later: the mail server or the network, not the message.
TRANSIENT_EMAIL_ERRORS: tuple[type[BaseException], ...] = (
    SMTPException,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


def _require_case_worker(actor: User, case: Case) -> None:
    if not can_work_cases(actor):
        raise NotAllowed(_("Only support engineers and managers can do this."))
    if not case_visible_to(user=actor, case_id=case.pk):
        raise NotAllowed(_("You cannot act on this case."))


# -- documents ---------------------------------------------------------------------------------------------


def document_send(
    *, actor: User, case: Case, kind: str, language: str, subject: str, body: str
) -> SentDocument:
    """Send an edited document to the customer: a record of it, one timeline entry that shows it as the
    e-mail read, and the e-mails to the case's people (the document itself to the customers) after the
    commit. Sending the scope message sends the current scope version (``cases.conversation.scope_send``)."""
    _require_case_worker(actor, case)
    if kind not in DocumentKind.values:
        raise InvalidInput(_("Unknown document."))
    if language not in LANGUAGES:
        raise InvalidInput(_("Unknown language."))
    subject, body = subject.strip(), body.strip()
    if not subject or not body:
        raise InvalidInput(_("The document needs a subject and a text."))
    left = placeholders_in(subject + "\n" + body)
    if left:
        raise InvalidInput(_("Replace the parts in [[double brackets]] before sending: %s") % left[0])
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        if not case.is_open and kind != DocumentKind.SUMMARY:
            raise InvalidInput(_("The case is closed: only its summary can still be sent."))
        # The text part of the e-mail, kept on the entry for the API; pages render the document instead.
        entry = TimelineEntry.objects.create(
            case=case, kind=TimelineEntry.Kind.MESSAGE, internal=False, body=body, author=actor
        )
        document = SentDocument.objects.create(
            case=case,
            kind=kind,
            language=language,
            subject=subject,
            body=body,
            scope_version=case_current_scope(case=case) if kind == DocumentKind.SCOPE else None,
            timeline_entry=entry,
            author=actor,
        )
        if kind == DocumentKind.SCOPE:
            event = conversation.scope_send(actor=actor, case=case, document_id=document.pk)
        else:
            if case.first_response_at is None:
                case.first_response_at = timezone.now()
                case.save(update_fields=["first_response_at", "updated_at"])
            event = audit_record(
                case=case,
                actor=actor,
                action=AuditAction.DOCUMENT_SENT,
                customer_visible=True,
                data={"document": document.pk, "kind": kind, "language": language, "entry": entry.pk},
            )
        entry.event = event
        entry.save(update_fields=["event"])
    return document


def case_follow(*, actor: User, case: Case, follow: bool) -> bool:
    """Staff follow a case (told of what its owner is told) or stop following it; returns the new state."""
    if not can_see_internal(actor) or not case_visible_to(user=actor, case_id=case.pk):
        raise NotAllowed(_("Only support staff can follow a case."))
    if follow:
        case.followers.add(actor)
    else:
        case.followers.remove(actor)
    return follow


# -- e-mail deliveries -------------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int) -> bool:
    """Send one pending e-mail; ``True`` if sent now. Connection and SMTP errors propagate (the task
    retries them) after the attempt is counted on the row."""
    delivery = EmailDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.state != EmailDelivery.State.PENDING:
        return False  # a redelivered task message after the e-mail went out: never send twice
    # Claim this attempt: of two runs holding the same delivery (a message published again after a broker
    # or worker loss), only the one whose UPDATE matches sends.
    attempts = delivery.attempts + 1
    if not EmailDelivery.objects.filter(
        pk=delivery_id, state=EmailDelivery.State.PENDING, attempts=delivery.attempts
    ).update(attempts=attempts):
        return False
    delivery.attempts = attempts
    message = EmailMultiAlternatives(
        subject=delivery.subject,
        body=delivery.body_text,
        from_email=None,
        to=[delivery.to],
        reply_to=[delivery.reply_to] if delivery.reply_to else None,
        headers=_threading_headers(delivery),
    )
    if delivery.body_html:
        message.attach_alternative(delivery.body_html, "text/html")
    try:
        message.send()
    except Exception as error:
        EmailDelivery.objects.filter(pk=delivery_id).update(
            last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        raise
    EmailDelivery.objects.filter(pk=delivery_id, state=EmailDelivery.State.PENDING).update(
        state=EmailDelivery.State.SENT, sent_at=timezone.now()
    )
    if delivery.case_id is not None:
        case_touch(case_id=delivery.case_id)  # the case page lists its e-mails with their state
    return True


def _threading_headers(delivery: EmailDelivery) -> dict[str, str]:
    """Message-ID, References and In-Reply-To, so a case's e-mails read as one thread and a reply finds
    its case; ``Auto-Submitted`` (RFC 3834), so out-of-office responders leave our mail alone."""
    headers = {"Auto-Submitted": "auto-replied" if delivery.in_reply_to else "auto-generated"}
    if delivery.message_id:
        headers["Message-ID"] = f"<{delivery.message_id}>"
    thread = [delivery.in_reply_to] if delivery.in_reply_to else []
    if delivery.case_id is not None:
        thread.insert(0, thread_id(Case.objects.only("number").get(pk=delivery.case_id)))
    if thread:
        headers["References"] = " ".join(f"<{mid}>" for mid in thread)
        headers["In-Reply-To"] = f"<{thread[-1]}>"
    return headers


def delivery_mark_failed(*, delivery_id: int, error: str) -> EmailDelivery | None:
    """After the last attempt: mark the e-mail not delivered and say so on the case's timeline (staff only)."""
    with transaction.atomic():
        delivery = EmailDelivery.objects.select_for_update().filter(pk=delivery_id).first()
        if delivery is None or delivery.state != EmailDelivery.State.PENDING:
            return delivery
        delivery.state = EmailDelivery.State.FAILED
        delivery.last_error = error[:2000]
        delivery.save(update_fields=["state", "last_error"])
        if delivery.case_id is not None:
            with translation.override(settings.LANGUAGE_CODE):
                body = _(
                    "E-mail not delivered to %(to)s after %(attempts)s attempts: “%(subject)s” (%(error)s)"
                ) % {
                    "to": delivery.to,
                    "attempts": delivery.attempts,
                    "subject": delivery.subject,
                    "error": error[:300],
                }
            # Internal: the customer cannot act on it, and the address may be a colleague's.
            TimelineEntry.objects.create(
                case_id=delivery.case_id, kind=TimelineEntry.Kind.SYSTEM, internal=True, body=body
            )
            case_touch(case_id=delivery.case_id)
    logger.warning("e-mail %s to %s not delivered: %s", delivery_id, delivery.to, error)
    return delivery


# -- notifications -----------------------------------------------------------------------------------------


def _preferences(users: list[User], kind: str) -> dict[int, tuple[bool, bool]]:
    rows = NotificationPreference.objects.filter(user__in=users, kind=kind)
    return {row.user_id: (row.email, row.portal) for row in rows}


def _reply_addresses(event: AuditEvent, user: User) -> tuple[str, str]:
    """The Reply-To of this person's e-mail and the other address it names (staff only). A reply writes
    on the case as its sender: customers' and staff's replies to what the customer saw are messages; staff's
    replies to internal events are internal notes, so an answer to a note never reaches the customer."""
    if event.case is None:
        return "", ""
    reply = reply_address_for(case=event.case, user=user, kind=REPLY)
    if user.is_customer or not reply:
        return reply, ""
    note = reply_address_for(case=event.case, user=user, kind=NOTE)
    return (reply, note) if event.customer_visible else (note, reply)


def notification_fan_out(*, event: AuditEvent) -> list[EmailDelivery]:
    """Create the portal notifications and pending e-mails of one case event for everyone who follows it
    and has not turned the kind off. Idempotent: a second run finds the rows of the first."""
    users = notifications.notification_recipients(event)
    if not users:
        return []
    kind = notifications.notification_kind(event)
    chosen = _preferences(users, kind)
    deliveries: list[EmailDelivery] = []
    told: list[int] = []
    for user in users:
        wants_email, wants_portal = chosen.get(user.pk, (True, True))
        if wants_portal:
            _notification, created = Notification.objects.get_or_create(
                recipient=user, event=event, defaults={"case_id": event.case_id, "kind": kind}
            )
            if created:
                told.append(user.pk)
        if wants_email and user.email:
            existing = EmailDelivery.objects.filter(event=event, to=user.email).first()
            if existing is None:
                reply_to, other = _reply_addresses(event, user)
                content = notifications.notification_email(
                    event, user, reply_address=reply_to, other_address=other
                )
                try:
                    with transaction.atomic():
                        existing = EmailDelivery.objects.create(
                            case_id=event.case_id,
                            recipient=user,
                            to=user.email,
                            subject=content.subject,
                            body_text=content.text,
                            body_html=content.html,
                            event=event,
                            document=content.document,
                            message_id=message_id_new(),
                            reply_to=reply_to,
                        )
                except IntegrityError:  # a concurrent run of the same event made it first
                    existing = EmailDelivery.objects.get(event=event, to=user.email)
            deliveries.append(existing)
    if told:
        selectors.notifications_unread_forget(user_ids=told)
        if event.case_id is not None:
            case_touch(case_id=event.case_id)  # open pages of the case show their readers' new count
    return deliveries


def notification_send(*, event: AuditEvent) -> tuple[int, list[int]]:
    """Fan the event out and send its pending e-mails now; returns how many were sent and the ids of
    those that met a transient error (the caller queues them for retries of their own)."""
    sent, retry = 0, []
    for delivery in notification_fan_out(event=event):
        if delivery.state != EmailDelivery.State.PENDING:
            continue
        try:
            sent += delivery_send(delivery_id=delivery.pk)
        except TRANSIENT_EMAIL_ERRORS:
            retry.append(delivery.pk)
    return sent, retry


def notification_mark_read(*, user: User, notification_id: int | None = None) -> int:
    """Mark one of the user's notifications read, or all of them when no id is given."""
    unread = Notification.objects.filter(recipient=user, read_at__isnull=True)
    if notification_id is not None:
        unread = unread.filter(pk=notification_id)
    marked = unread.update(read_at=timezone.now())
    selectors.notifications_unread_forget(user_ids=[user.pk])
    return marked


def notification_preferences_save(*, user: User, choices: dict[str, tuple[bool, bool]]) -> None:
    """Store the user's (e-mail, portal) switches per kind; unknown kinds are refused."""
    unknown = set(choices) - set(NotificationKind.values)
    if unknown:
        raise InvalidInput(_("Unknown notification kinds: %s") % ", ".join(sorted(unknown)))
    with transaction.atomic():
        for kind, (email, portal) in choices.items():
            NotificationPreference.objects.update_or_create(
                user=user, kind=kind, defaults={"email": email, "portal": portal}
            )


# -- evidence requests -------------------------------------------------------------------------------------


def evidence_item_add(
    *,
    actor: User,
    case: Case,
    preset: str = "",
    label: str = "",
    instructions: str = "",
    kind: str = "",
    filename_pattern: str = "",
) -> EvidenceItem:
    """Ask the customer for a file: a ready-made request (``preset``) or one written by the engineer."""
    _require_case_worker(actor, case)
    if preset:
        ready = PRESETS.get(preset)
        if ready is None:
            raise InvalidInput(_("Unknown ready-made request."))
        label, instructions = ready.label["en"], ready.instructions["en"]
        kind, filename_pattern = ready.kind, ready.filename_pattern
    if not label.strip():
        raise InvalidInput(_("Say which file is needed."))
    if kind not in Upload.Kind.values or not kind:
        raise InvalidInput(_("Choose the type of upload that fulfils the request."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        last = case.evidence_items.order_by("-position").first()
        item = EvidenceItem.objects.create(
            case=case,
            position=(last.position + 1) if last else 0,
            preset=preset,
            label=label.strip(),
            instructions=instructions.strip(),
            kind=kind,
            filename_pattern=filename_pattern.strip(),
            created_by=actor,
        )
        # While the scope is being written the request is part of it (the scope message lists it); later
        # it asks the customer something, and they are told.
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.EVIDENCE_REQUESTED,
            customer_visible=case.state not in {State.NEW, State.SCOPING},
            data={"item": item.pk, "label": item.label},
        )
    return item


def evidence_item_remove(*, actor: User, item: EvidenceItem) -> None:
    """Withdraw a request (the customer no longer sees it on the upload page)."""
    _require_case_worker(actor, item.case)
    with transaction.atomic():
        audit_record(
            case=item.case,
            actor=actor,
            action=AuditAction.EVIDENCE_WITHDRAWN,
            customer_visible=item.case.state not in {State.NEW, State.SCOPING},
            data={"item": item.pk, "label": item.label},
        )
        item.delete()
