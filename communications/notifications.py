"""Who hears about a case event, under which kind, and what they read (e-mail text and HTML).

Reads only; ``communications.services.notification_send`` writes the rows and sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from cases.models import AuditEvent
from communications.models import NotificationKind

ACTION_KINDS: dict[str, str] = {
    "case_assigned": NotificationKind.ASSIGNED,
    "case_reassigned": NotificationKind.ASSIGNED,
    "message_added": NotificationKind.MESSAGE,
    "upload_stored": NotificationKind.UPLOAD,
    "analysis_done": NotificationKind.ANALYSIS,
    "scope_objected": NotificationKind.SCOPE_ANSWER,
    "scope_accepted": NotificationKind.SCOPE_ANSWER,
    "close": NotificationKind.CLOSED,
    "document_sent": NotificationKind.DOCUMENT,
}

# What a notification says, by action (English sources; the UI catalogue translates them).
ACTION_TEXT = {
    "case_opened": gettext_lazy("Case opened"),
    "case_assigned": gettext_lazy("Case assigned to %(to)s"),
    "case_reassigned": gettext_lazy("Case reassigned from %(from)s to %(to)s"),
    "message_added": gettext_lazy("New message"),
    "note_added": gettext_lazy("A staff note was added"),
    "upload_stored": gettext_lazy("New upload: %(filename)s"),
    "analysis_done": gettext_lazy("Analysis done"),
    "scope_objected": gettext_lazy("The customer objected to the scope"),
    "scope_accepted": gettext_lazy("The customer accepted the scope"),
    "close": gettext_lazy("Case closed"),
    "reopen": gettext_lazy("Case reopened"),
    "document_sent": gettext_lazy("Document sent to the customer"),
}
# Customers hear only about these (they receive documents as e-mails of their own).
CUSTOMER_KINDS = frozenset({NotificationKind.MESSAGE, NotificationKind.CLOSED})


def notification_kind(event: AuditEvent) -> str:
    return ACTION_KINDS.get(event.action, NotificationKind.ACTIVITY)


def _analysis_pending(case_id: int) -> bool:
    from analysis.models import AnalysisJob

    return AnalysisJob.objects.filter(upload__case_id=case_id, state__in=AnalysisJob.ACTIVE_STATES).exists()


def notification_recipients(event: AuditEvent) -> list[User]:
    """The owner (and on reassignment the previous owner) when someone else acted; for customer-visible
    events the organisation's account managers, who follow every customer-visible change of the cases they
    brought in; and the customer contact for staff messages and the closing. Never the actor."""
    case = event.case
    if case is None:
        return []
    if event.action == "analysis_done" and _analysis_pending(case.pk):
        return []  # one notice when the case's last pending job ends, not one per file of an archive
    kind = notification_kind(event)
    recipients: dict[int, User] = {}
    if case.owner_id:
        recipients[case.owner_id] = case.owner
    if event.action == "case_reassigned" and event.data.get("from"):
        previous = User.objects.filter(username=event.data["from"]).first()
        if previous is not None:
            recipients[previous.pk] = previous
    if event.customer_visible:
        for manager in case.organisation.account_managers.filter(is_active=True):
            recipients[manager.pk] = manager
        contact = case.customer_contact
        actor_is_customer = event.actor is not None and event.actor.is_customer
        if contact is not None and kind in CUSTOMER_KINDS and not actor_is_customer:
            recipients[contact.pk] = contact
    recipients.pop(event.actor_id, None)  # type: ignore[arg-type]
    return [
        user
        for user in recipients.values()
        if user.is_active and (event.customer_visible or not user.is_customer)
    ]


def event_text(event: AuditEvent) -> str:
    """One line saying what happened, in the active language."""
    template = ACTION_TEXT.get(event.action)
    if template is None:
        return event.action.replace("_", " ").capitalize()
    values = {key: event.data.get(key) or "—" for key in ("from", "to", "filename")}
    return str(template) % values


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str


def _message_body(event: AuditEvent) -> str:
    # Only a customer-visible message's text is quoted; an internal note's never leaves the portal.
    if event.action != "message_added" or not event.customer_visible:
        return ""
    from cases.models import TimelineEntry

    entry = TimelineEntry.objects.filter(pk=event.data.get("entry"), internal=False).first()
    return entry.body if entry else ""


def notification_email(event: AuditEvent, user: User) -> EmailContent:
    """The e-mail one person receives for an event, in their language."""
    case = event.case
    with translation.override(user.language or settings.LANGUAGE_CODE):
        what = event_text(event)
        context = {
            "case": case,
            "event": event,
            "what": what,
            "actor": event.actor or _("The portal"),
            "quote": _message_body(event),
            "link": settings.SITE_URL + reverse("cases:detail", args=[case.number]),
            "preferences": settings.SITE_URL + reverse("communications:preferences"),
            "user": user,
        }
        subject = _("[%(number)s] %(what)s") % {"number": case.number, "what": what}
        text = render_to_string("communications/email/notification.txt", context)
        html = render_to_string("communications/email/notification.html", context)
    return EmailContent(subject=subject.replace("\n", " ")[:250], text=text, html=html)
