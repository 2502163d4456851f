"""Writes of mail in (STYLE.md rules 2 and 4): reading a stored message into the case it belongs to, and
the staff queue's three actions. Storing it is inbound.receiving, the automatic answers inbound.answers.

The flow: the listener (or the IMAP poll) calls ``inbound.receiving.inbound_message_receive``, which
stores the raw bytes and queues ``inbound.tasks.inbound_process`` after the commit; the worker calls
``inbound_message_process``, which decides, by the address the mail was sent to and its sender, whether
it is a reply (a timeline entry through ``cases.services.timeline_add``, its files through
``uploads.services.upload_store_bytes``), a new case, something for staff (``/mail/``), an automatic mail
to record only, or a message too large. docs/inbound.md shows the decisions as a table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.capabilities import can_act_for_vendor, can_manage_mail_queue
from accounts.models import Organisation, User
from cases import services as case_services
from cases.errors import DomainError, InvalidInput, InvalidState, NotAllowed
from cases.models import Case
from cases.selectors import case_visible_to
from communications.models import EmailDelivery
from inbound import addresses, mail_text, parsing
from inbound.answers import inbound_answer
from inbound.models import InboundMessage, ReplyAddressRevocation
from inbound.receiving import inbound_raw_read
from uploads.models import Upload
from uploads.services import upload_store_bytes

logger = logging.getLogger(__name__)

State, Reason = InboundMessage.State, InboundMessage.Reason
# A worker holds a message this long; a redelivered task meanwhile leaves it alone, and the reconciler
# queues it again after it (longer than the task's hard time limit).
LEASE = timedelta(minutes=10)
# Small inline images are signature art (logos, icons): left in the original rather than made uploads.
INLINE_ART_MAX = 32 * 1024
EMAIL = "email"


# -- reading -----------------------------------------------------------------------------------------------


def _claim(message_id: int) -> InboundMessage | None:
    now = timezone.now()
    claimed = (
        InboundMessage.objects.filter(pk=message_id, state=State.RECEIVED)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
        .update(lease_until=now + LEASE, attempts=F("attempts") + 1)
    )
    return InboundMessage.objects.filter(pk=message_id).first() if claimed else None


def _finish(
    message: InboundMessage, state: str, reason: str = "", detail: str = "", *, handled: bool = True
) -> InboundMessage:
    message.state = state
    message.reason = reason
    if detail:
        message.detail = (message.detail + "\n" + detail).strip()
    message.lease_until = None
    message.handled_at = timezone.now() if handled else None
    message.save()
    return message


def inbound_message_process(*, message_id: int) -> InboundMessage | None:
    """Read one received message and act on it (the module docstring and docs/inbound.md). Idempotent:
    a message already handled is left alone, and a second run after a crash finds the entry and the
    uploads of the first. After INBOUND_MAX_ATTEMPTS failed runs the message goes to the staff queue."""
    message = _claim(message_id)
    if message is None:
        return InboundMessage.objects.filter(pk=message_id).first()
    try:
        return _process(message)
    except Exception:
        # Let the retry (or the reconciler) have it at once; the attempt stays counted.
        InboundMessage.objects.filter(pk=message_id, state=State.RECEIVED).update(lease_until=None)
        raise


def _process(message: InboundMessage) -> InboundMessage:
    if message.attempts > settings.INBOUND_MAX_ATTEMPTS:
        return _finish(
            message,
            State.QUEUED,
            Reason.FAILED,
            _("Reading it failed %(n)s times; the original is kept.") % {"n": message.attempts - 1},
            handled=False,
        )
    if message.too_large:
        raw = inbound_raw_read(message=message, limit=256 * 1024)
        mail = parsing.headers_parse(raw, envelope_from=_envelope_from(message))
    else:
        mail = parsing.mail_parse(inbound_raw_read(message=message), envelope_from=_envelope_from(message))
    message.from_name = mail.from_name[:200]
    message.from_address = mail.from_address
    message.subject = mail.subject[:500]
    message.text = mail.text
    if mail.defects:
        message.detail = _("The message is malformed: %s") % ", ".join(sorted(set(mail.defects))[:10])
    if mail.auto_reply:
        # Recorded, never posted and never answered: answering automatic mail is how loops start.
        return _finish(message, State.IGNORED, Reason.AUTOMATIC, mail.auto_reply)
    address = _reply_address(message, mail)
    if address:
        return _reply_receive(message, mail, address)
    return _request_receive(message, mail)


def _envelope_from(message: InboundMessage) -> str | None:
    # IMAP has no envelope: None tells the parser not to read an empty sender as a bounce.
    return None if message.via == InboundMessage.Via.IMAP else message.envelope_from


def _reply_address(message: InboundMessage, mail: parsing.ParsedMail) -> str:
    """The reply address the mail went to: from the envelope (the listener), else from the headers (a
    mailbox), else from threading (a reply sent to the support address that answers one of our e-mails)."""
    found = addresses.reply_addresses_in(list(message.envelope_to) or mail.recipients)
    if found:
        return found[0]
    answered = [*mail.in_reply_to, *reversed(mail.references)]
    if answered and mail.from_address:
        delivery = (
            EmailDelivery.objects.filter(message_id__in=answered[:20], to__iexact=mail.from_address)
            .exclude(reply_to="")
            .order_by("-created_at")
            .first()
        )
        if delivery is not None:
            return delivery.reply_to
    return ""


def _sender_for_reply(from_address: str, check: addresses.AddressCheck) -> User | None:
    """Who wrote: the address's own recipient, or another user of the case's organisation (a colleague
    the customer forwarded the e-mail to)."""
    assert check.user is not None and check.case is not None
    if not from_address:
        return None
    if check.user.email.lower() == from_address:
        return check.user
    return (
        User.objects.filter(
            email__iexact=from_address, is_active=True, organisation_id=check.case.organisation_id
        )
        .order_by("pk")
        .first()
    )


def _reply_receive(message: InboundMessage, mail: parsing.ParsedMail, address: str) -> InboundMessage:
    check = addresses.reply_address_check(address)
    message.to_address = address
    message.case = check.case
    if check.outcome != "ok":
        return _finish(message, State.QUEUED, check.outcome, handled=False)
    assert check.case is not None and check.user is not None
    sender = _sender_for_reply(mail.from_address, check)
    note = check.kind == addresses.NOTE
    if sender is None or (note and (sender.pk != check.user.pk or not can_act_for_vendor(sender))):
        return _finish(message, State.QUEUED, Reason.SENDER_MISMATCH, handled=False)
    message.sender = sender
    if message.too_large:
        inbound_answer(message, user=sender, case=check.case, kind="too_large")
        return _finish(message, State.REFUSED, Reason.TOO_LARGE)
    files, results = _files(mail, internal=note)
    body = mail_text.reply_text(mail.text)
    if not body and not files:
        return _finish(message, State.QUEUED, Reason.EMPTY, handled=False)
    if not body:
        with translation.override(sender.language or settings.LANGUAGE_CODE):
            body = _("Files sent by e-mail: %s") % ", ".join(f.filename for f in files)
    try:
        _post(message, actor=sender, case=check.case, body=body, internal=note)
    except InvalidState as error:  # a closed case takes no customer messages
        inbound_answer(message, user=sender, case=check.case, kind="case_closed", reason=error.message)
        return _finish(message, State.QUEUED, Reason.CASE_CLOSED, error.message, handled=False)
    except NotAllowed as error:
        return _finish(message, State.QUEUED, Reason.NOT_ALLOWED, error.message, handled=False)
    message.attachments = results + _store(message, actor=sender, case=check.case, files=files)
    if any(row["outcome"] == "refused" for row in message.attachments):
        inbound_answer(message, user=sender, case=check.case, kind="files_refused")
    return _finish(message, State.POSTED)


def _post(message: InboundMessage, *, actor: User, case: Case, body: str, internal: bool) -> None:
    """The timeline entry of a reply, written with the message's link in one transaction, so a second run
    finds it instead of posting twice."""
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().get(pk=message.pk)
        if locked.timeline_entry_id is not None:
            message.timeline_entry_id = locked.timeline_entry_id
            return
        entry = case_services.timeline_add(actor=actor, case=case, body=body, internal=internal, via=EMAIL)
        InboundMessage.objects.filter(pk=message.pk).update(timeline_entry=entry, case=case)
        message.timeline_entry = entry


def _files(
    mail: parsing.ParsedMail, *, internal: bool
) -> tuple[list[parsing.Attachment], list[dict[str, object]]]:
    """The attachments that become uploads, and a result row for each one that does not."""
    results = [
        {"filename": name, "size": 0, "outcome": "skipped", "detail": _("empty file")}
        for name, _r in mail.skipped
    ]
    files: list[parsing.Attachment] = []
    for attachment in mail.attachments:
        if (
            attachment.inline
            and attachment.content_type.startswith("image/")
            and len(attachment.data) < INLINE_ART_MAX
        ):
            detail = _("small inline image (signature art): kept in the original message")
        elif internal:
            # Uploads are the customer's to see; a file sent with an internal note stays with the note's
            # original message, which only staff open.
            detail = _("sent with an internal note: kept in the original message")
        else:
            files.append(attachment)
            continue
        results.append(
            {
                "filename": attachment.filename,
                "size": len(attachment.data),
                "outcome": "skipped",
                "detail": detail,
            }
        )
    return files, results


def _store(
    message: InboundMessage, *, actor: User, case: Case, files: list[parsing.Attachment]
) -> list[dict[str, object]]:
    """Each file through the upload page's service (quotas, type by content, archives, scanning, analysis);
    a file already stored by an earlier run of the same message is found, not stored twice."""
    results: list[dict[str, object]] = []
    for index, attachment in enumerate(files):
        row: dict[str, object] = {"filename": attachment.filename, "size": len(attachment.data)}
        earlier = Upload.objects.filter(
            case=case, metadata__inbound_message=str(message.pk), metadata__inbound_part=str(index)
        ).first()
        if earlier is not None:
            results.append({**row, "outcome": "stored", "upload": str(earlier.pk), "detail": ""})
            continue
        try:
            upload = upload_store_bytes(
                actor=actor,
                case=case,
                filename=attachment.filename,
                data=attachment.data,
                metadata={"inbound_message": str(message.pk), "inbound_part": str(index), "source": EMAIL},
            )
        except DomainError as error:  # quota, size, a closed case: the sender is told
            results.append({**row, "outcome": "refused", "detail": error.message})
        else:
            results.append({**row, "outcome": "stored", "upload": str(upload.pk), "detail": ""})
    return results


def _request_receive(message: InboundMessage, mail: parsing.ParsedMail) -> InboundMessage:
    """Mail to the support address: a case opened as the customer who sent it, or the staff queue."""
    message.to_address = settings.INBOUND_SUPPORT_ADDRESS
    if not mail.from_address:
        return _finish(message, State.QUEUED, Reason.UNKNOWN_SENDER, handled=False)
    users = list(User.objects.filter(email__iexact=mail.from_address, is_active=True))
    customers = [user for user in users if user.is_customer and user.organisation_id is not None]
    if not customers:
        reason = Reason.STAFF_SENDER if users else Reason.UNKNOWN_SENDER
        return _finish(message, State.QUEUED, reason, handled=False)
    if len(customers) > 1:
        return _finish(message, State.QUEUED, Reason.AMBIGUOUS_SENDER, handled=False)
    customer = customers[0]
    message.sender = customer
    if settings.INBOUND_REQUIRE_AUTH:
        vouched, why = parsing.sender_authenticated(
            mail.authentication_results,
            authserv_id=settings.INBOUND_AUTHSERV_ID,
            from_address=mail.from_address,
        )
        if not vouched:
            # Anyone can write a customer's address in From: without our MTA's word, staff decide.
            return _finish(message, State.QUEUED, Reason.UNAUTHENTICATED, why, handled=False)
    if message.too_large:
        inbound_answer(message, user=customer, case=None, kind="too_large")
        return _finish(message, State.REFUSED, Reason.TOO_LARGE)
    files, results = _files(mail, internal=False)
    title = mail_text.subject_clean(mail.subject) or _first_line(mail.text)
    if not title and not files:
        return _finish(message, State.QUEUED, Reason.EMPTY, handled=False)
    with transaction.atomic():
        locked = InboundMessage.objects.select_for_update().get(pk=message.pk)
        if locked.case_id is not None:  # a second run: the first one opened it
            case = Case.objects.get(pk=locked.case_id)
        else:
            with translation.override(customer.language or settings.LANGUAGE_CODE):
                title = title or _("Request by e-mail")
            case = case_services.case_open_for_customer(
                customer=customer, title=title, description=mail.text, via=EMAIL
            )
            InboundMessage.objects.filter(pk=message.pk).update(case=case)
    message.case = case
    message.attachments = results + _store(message, actor=customer, case=case, files=files)
    inbound_answer(message, user=customer, case=case, kind="case_opened")
    return _finish(message, State.CASE_OPENED)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return ""


# -- the staff queue ---------------------------------------------------------------------------------------


def _require_worker(actor: User) -> None:
    if not can_manage_mail_queue(actor):
        raise NotAllowed(_("Only support engineers and managers can do this."))


def _require_open_item(message: InboundMessage) -> None:
    if message.state != State.QUEUED:
        raise InvalidState(_("This message was already handled (%s).") % message.get_state_display())


def _mail_for(message: InboundMessage) -> parsing.ParsedMail:
    if message.content_deleted_at is not None:
        raise InvalidState(_("The original of this message was deleted by the retention policy."))
    if message.too_large:
        return parsing.headers_parse(inbound_raw_read(message=message, limit=256 * 1024))
    return parsing.mail_parse(inbound_raw_read(message=message))


def _staff_text(message: InboundMessage, mail: parsing.ParsedMail) -> str:
    # A reply that went astray is read like a reply (quoted history cut); a new request keeps all of it.
    text = (
        mail_text.reply_text(mail.text)
        if message.to_address != settings.INBOUND_SUPPORT_ADDRESS
        else mail.text
    )
    return text or _("(no text)")


@dataclass(frozen=True)
class Outcome:
    message: InboundMessage
    case: Case


def inbound_message_attach(*, actor: User, message: InboundMessage, case: Case, internal: bool) -> Outcome:
    """Staff add a queued message to a case. A customer of the case's organisation who sent it writes it
    themselves (as if their reply had found its way; the case moves as it would); anyone else's mail is
    written by the member of staff, quoted with its sender, as a message or an internal note. Files become
    uploads of the case unless it is an internal note (they stay in the original)."""
    _require_worker(actor)
    if not case_visible_to(user=actor, case_id=case.pk):
        raise NotAllowed(_("You cannot act on this case."))
    _require_open_item(message)
    mail = _mail_for(message)
    sender = message.sender
    if sender is None and mail.from_address:
        sender = User.objects.filter(
            email__iexact=mail.from_address, is_active=True, organisation_id=case.organisation_id
        ).first()
    as_sender = sender is not None and sender.is_customer and case_visible_to(user=sender, case_id=case.pk)
    text = _staff_text(message, mail)
    if as_sender:
        assert sender is not None
        author, internal, body = sender, False, text  # their own reply: a message, as it would have been
    else:
        author = actor
        who = f"{message.from_name} <{message.from_address}>" if message.from_name else message.from_address
        body = _("E-mail from %(sender)s, received %(when)s:") % {
            "sender": who or _("an unknown sender"),
            "when": timezone.localtime(message.received_at).strftime("%Y-%m-%d %H:%M"),
        }
        body += "\n\n" + text
    files, results = _files(mail, internal=internal)
    if message.too_large:
        files, results = (
            [],
            [{"filename": "—", "size": message.size, "outcome": "skipped", "detail": _("too large")}],
        )
    _post(message, actor=author, case=case, body=body, internal=internal)
    message.case = case
    message.sender = sender if as_sender else message.sender
    message.attachments = results + _store(message, actor=author, case=case, files=files)
    message.handled_by = actor
    _finish(message, State.ATTACHED)
    return Outcome(message, case)


def inbound_message_open_case(
    *,
    actor: User,
    message: InboundMessage,
    organisation: Organisation,
    title: str,
    customer_contact: User | None = None,
) -> Outcome:
    """Staff open a case from a queued message: its text is the description, its files the first uploads."""
    _require_worker(actor)
    _require_open_item(message)
    mail = _mail_for(message)
    files, results = _files(mail, internal=False)
    if message.too_large:
        files, results = [], []
    with transaction.atomic():
        case = case_services.case_create(
            actor=actor,
            organisation=organisation,
            title=title or mail_text.subject_clean(message.subject) or _("Request by e-mail"),
            description=_staff_text(message, mail),
            customer_contact=customer_contact,
        )
        InboundMessage.objects.filter(pk=message.pk).update(case=case)
    message.case = case
    message.attachments = results + _store(message, actor=actor, case=case, files=files)
    message.handled_by = actor
    _finish(message, State.CASE_OPENED)
    return Outcome(message, case)


def inbound_message_discard(*, actor: User, message: InboundMessage, note: str = "") -> InboundMessage:
    """Staff discard a queued message (spam, a stray newsletter); the row and, until retention, the
    original stay."""
    _require_worker(actor)
    _require_open_item(message)
    message.handled_by = actor
    return _finish(
        message, State.DISCARDED, message.reason, _("Discarded: %s") % note if note.strip() else ""
    )


# -- reply addresses ---------------------------------------------------------------------------------------


def reply_address_revoke(*, actor: User | None, case: Case, user: User) -> str:
    """Revoke a person's reply and note addresses on a case (a leaked address): mail to them goes to
    the staff queue from now on, and their next e-mails carry new ones. Returns the new reply address."""
    if actor is not None:
        _require_worker(actor)
    if not user.email and not user.pk:
        raise InvalidInput(_("Unknown user."))
    with transaction.atomic():
        row, _created = ReplyAddressRevocation.objects.select_for_update().get_or_create(case=case, user=user)
        row.generation += 1
        row.revoked_by = actor
        row.save()
    return addresses.reply_address_for(case=case, user=user, generation=row.generation)
