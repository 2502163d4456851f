"""Who hears about a case event, under which kind, and what they read (e-mail text and HTML).

``ROUTES`` is the event x recipient table (docs/notifications.md shows it; a test keeps the two equal and
checks that every lifecycle step has a row). Reads only: ``communications.services.notification_send``
writes the rows and sends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from analysis.models import AnalysisJob
from cases.audit import RECORDS_ONLY, AuditAction
from cases.conversation import resolution_deadlines
from cases.models import (
    AuditEvent,
    Case,
    CaseSummary,
    ResolutionProposal,
    ResolutionType,
    ScopeVersion,
    TimelineEntry,
)
from communications.models import DocumentKind, NotificationKind, SentDocument
from config.links import site_url


@dataclass(frozen=True)
class Route:
    """Who is told of one kind of event. ``customers``: the case's customer contacts (the contact and the
    customers following it), for customer-visible events only. ``staff``: the owner and staff following the
    case, plus the organisation's account managers for customer-visible events. Never the actor."""

    kind: str
    customers: bool
    staff: bool


_C, _S, _CS = (True, False), (False, True), (True, True)


def _route(kind: str, who: tuple[bool, bool]) -> Route:
    return Route(kind=kind, customers=who[0], staff=who[1])


K, A = NotificationKind, AuditAction
ROUTES: dict[str, Route] = {
    # Opening, assignment and the case's own fields
    A.CASE_OPENED: _route(K.ACTIVITY, _CS),
    A.CASE_ASSIGNED: _route(K.ASSIGNED, _CS),
    A.CASE_REASSIGNED: _route(K.ASSIGNED, _CS),
    A.CASE_UPDATED: _route(K.ACTIVITY, _S),
    A.CASE_SPLIT: _route(K.ACTIVITY, _CS),
    # Scope
    A.SCOPE_SAVED: _route(K.ACTIVITY, _S),
    A.SCOPING_STARTED: _route(K.ACTIVITY, _S),
    A.START_SCOPING: _route(K.ACTIVITY, _S),
    A.SEND_SCOPE: _route(K.DOCUMENT, _CS),
    A.SCOPE_ACCEPTED: _route(K.SCOPE_ANSWER, _S),
    A.SCOPE_OBJECTED: _route(K.SCOPE_ANSWER, _S),
    # Investigation: what the engineer asks, what the customer sends
    A.START_INVESTIGATION: _route(K.ACTIVITY, _CS),
    A.REQUEST_CUSTOMER: _route(K.REQUEST, _CS),
    A.EVIDENCE_REQUESTED: _route(K.REQUEST, _CS),
    A.EVIDENCE_WITHDRAWN: _route(K.REQUEST, _CS),
    A.MESSAGE_ADDED: _route(K.MESSAGE, _CS),
    A.NOTE_ADDED: _route(K.MESSAGE, _S),
    A.UPLOAD_STORED: _route(K.UPLOAD, _S),
    A.UPLOAD_REJECTED: _route(K.UPLOAD, _CS),
    A.UPLOAD_WITHDRAWN: _route(K.UPLOAD, _CS),
    A.UPLOAD_DELETED: _route(K.UPLOAD, _CS),
    A.ANALYSIS_DONE: _route(K.ANALYSIS, _S),
    A.DOCUMENT_SENT: _route(K.DOCUMENT, _CS),
    # Resolution
    A.PROPOSE_RESOLUTION: _route(K.RESOLUTION, _CS),
    A.RESUME_INVESTIGATION: _route(K.RESOLUTION, _CS),
    A.RESOLUTION_ACCEPTED: _route(K.RESOLUTION, _S),
    A.RESOLUTION_REJECTED: _route(K.RESOLUTION, _S),
    A.RESOLUTION_REMINDER: _route(K.RESOLUTION, _C),
    A.CLOSE: _route(K.CLOSED, _CS),
    A.REOPEN: _route(K.CLOSED, _CS),
}
# Anything else (reviews, invitations, a virus found) tells the owner only when someone else acted.
DEFAULT_ROUTE = _route(K.ACTIVITY, _S)


def route_for(action: str) -> Route | None:
    """The route of an action; None for records nobody is told of (``cases.audit.RECORDS_ONLY``)."""
    if action in RECORDS_ONLY:
        return None
    return ROUTES.get(action, DEFAULT_ROUTE)


def notification_kind(event: AuditEvent) -> str:
    route = route_for(event.action)
    return route.kind if route else NotificationKind.ACTIVITY


def _analysis_pending(case_id: int) -> bool:
    return AnalysisJob.objects.filter(upload__case_id=case_id, state__in=AnalysisJob.ACTIVE_STATES).exists()


def _customer_contacts(case: Case) -> list[User]:
    people = [case.customer_contact] if case.customer_contact_id else []
    people += case.followers.filter(role=User.Role.CUSTOMER)
    # Only people who can still see the case: a customer moved to another organisation is not told.
    return [p for p in people if p is not None and p.organisation_id == case.organisation_id]


def _staff(case: Case, event: AuditEvent) -> list[User]:
    people: list[User] = [case.owner] if case.owner is not None else []
    if event.action == AuditAction.CASE_REASSIGNED and event.data.get("from"):
        people += User.objects.filter(username=event.data["from"])
    people += case.followers.exclude(role=User.Role.CUSTOMER)
    if event.customer_visible:
        people += case.organisation.account_managers.all()
    return people


def notification_recipients(event: AuditEvent) -> list[User]:
    """Everyone ``ROUTES`` says hears of this event, active, never the actor, each once."""
    case = event.case
    route = route_for(event.action)
    if case is None or route is None:
        return []
    if event.action == AuditAction.ANALYSIS_DONE and _analysis_pending(case.pk):
        return []  # one notice when the case's last pending job ends, not one per file of an archive
    people: list[User] = []
    if route.staff:
        people += _staff(case, event)
    if route.customers and event.customer_visible:
        people += _customer_contacts(case)
    recipients = {user.pk: user for user in people if user.is_active and user.pk != event.actor_id}
    return [user for user in recipients.values() if event.customer_visible or not user.is_customer]


# -- what people read ----------------------------------------------------------------------------------------

DOCUMENT_NAMES = {
    DocumentKind.SCOPE: gettext_lazy("scope message"),
    DocumentKind.FINDINGS: gettext_lazy("findings message"),
    DocumentKind.SUMMARY: gettext_lazy("closing summary"),
}


# The data keys the sentences of ``AuditAction`` name as they are.
_SENTENCE_KEYS = (
    "filename",
    "label",
    "version",
    "child",
    "email",
    "username",
    "provider",
    "calendar",
    "target",
)


def event_text(event: AuditEvent) -> str:
    """One sentence saying what happened, in the active language: the label of the event's
    ``AuditAction`` filled in from the event (an action no longer known reads as its name)."""
    if event.action not in AuditAction.values:
        return event.action.replace("_", " ").capitalize()
    data = event.data or {}
    values = {key: data.get(key) or "—" for key in _SENTENCE_KEYS}
    values.update(
        actor=str(event.actor) if event.actor_id else _("The portal"),
        to=data.get("to_name") or data.get("to") or "—",
        resolution=ResolutionType(data["resolution_type"]).label
        if data.get("resolution_type") in ResolutionType.values
        else "—",
        document=DOCUMENT_NAMES.get(data.get("kind", ""), _("document")),
    )
    values["from"] = data.get("from_name") or data.get("from") or "—"
    return str(AuditAction(event.action).label) % values


@dataclass
class EmailParts:
    """The content of one notification e-mail, rendered by communications/email/notification.*"""

    quote: str = ""
    quote_label: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    facts: list[tuple[str, str]] = field(default_factory=list)
    document: SentDocument | None = None
    note: str = ""
    action_label: str = ""
    action_url: str = ""


@dataclass(frozen=True)
class EmailContent:
    subject: str
    text: str
    html: str
    document: SentDocument | None = None


def _when(value: datetime | str | None) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else value
    return date_format(timezone.localtime(moment), "Y-m-d H:i") if moment else "—"


def _scope_sections(scope: ScopeVersion) -> list[tuple[str, str]]:
    return [
        (_("Problem definition"), scope.problem_definition),
        (_("Scope and closure criteria"), scope.scope),
        (_("Next steps"), scope.next_steps),
    ]


def _summary_sections(summary: CaseSummary) -> list[tuple[str, str]]:
    return [
        (_("Problem description"), summary.problem_description),
        (_("Analysis"), summary.analysis),
        (_("Resolution"), summary.resolution),
    ]


def _proposal_deadline(proposal: ResolutionProposal) -> str:
    return _("Without an answer by %(date)s, the case will be closed as “no response”.") % {
        "date": _when(resolution_deadlines(proposal=proposal).close_at)
    }


# What one person reads about one kind of event: each builder fills in the e-mail's parts from the event.
_PartsBuilder = Callable[[EmailParts, AuditEvent, Case, User], None]


def _message_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    entry = TimelineEntry.objects.filter(pk=event.data.get("entry"), internal=False).first()
    parts.quote = entry.body if entry else ""
    parts.action_label = _("Reply on the case page")


def _document_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    parts.document = SentDocument.objects.filter(pk=event.data.get("document"), case=case).first()
    if event.action != AuditAction.SEND_SCOPE:
        return
    if parts.document is None:
        scope = case.scope_versions.filter(version=event.data.get("version")).first()
        parts.sections = _scope_sections(scope) if scope else []
    if user.is_customer:
        parts.action_label = _("Accept the scope or object to it")
        parts.action_url += "#scope"


def _answer_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    parts.quote, parts.quote_label = _comment(event), _("Comment")
    if event.action == AuditAction.RESOLUTION_ACCEPTED:
        parts.note = _("Close the case with its summary: the proposed resolution is filled in.")


def _comment_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    parts.quote = _comment(event)
    if event.action == AuditAction.REQUEST_CUSTOMER and user.is_customer:
        parts.action_label = _("Answer on the case page")


def _evidence_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    item = case.evidence_items.filter(pk=event.data.get("item")).first()
    language = "zh-hans" if (translation.get_language() or "").startswith("zh") else "en"
    parts.facts = [(_("File needed"), item.label_in(language) if item else str(event.data.get("label", "")))]
    if event.action != AuditAction.EVIDENCE_REQUESTED:
        return
    if item is not None:
        parts.quote, parts.quote_label = item.instructions_in(language), _("How to collect it")
    if user.is_customer:
        parts.action_label = _("Upload the file")
        parts.action_url = site_url(reverse("uploads:page", args=[case.number]))


def _proposal_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    proposal = (
        ResolutionProposal.objects.select_related("case")
        .filter(pk=event.data.get("proposal"), case=case)
        .first()
    )
    parts.quote, parts.quote_label = (
        (proposal.text if proposal else _comment(event)),
        _("Proposed resolution"),
    )
    if user.is_customer:
        parts.note = _proposal_deadline(proposal) if proposal else ""
        parts.action_label = _("Confirm or reject the resolution")
        parts.action_url += "#resolution"


def _close_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    data = event.data
    summary = case.summaries.filter(version=data.get("summary_version")).first()
    parts.sections = _summary_sections(summary) if summary else []
    if data.get("resolution_type") == ResolutionType.NO_RESPONSE and data.get("proposal"):
        parts.note = _("Nobody answered the proposed resolution in time, so the case was closed.")


def _assignment_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    if not user.is_customer and event.data.get("reason"):
        parts.quote, parts.quote_label = str(event.data["reason"]), _("Reason")


def _upload_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    data = event.data
    parts.facts = [(_("File"), str(data.get("filename", "")))]
    if data.get("size") is not None:
        parts.facts.append((_("Size"), filesizeformat(data["size"])))
    if data.get("sha256"):
        parts.facts.append(("SHA-256", str(data["sha256"])))
    if data.get("duplicate_of_filename"):
        parts.facts.append((_("The same file as"), str(data["duplicate_of_filename"])))
        parts.note = _("It is not analysed again: the analysis of the first copy stands for both.")
    if data.get("reason"):
        parts.quote, parts.quote_label = str(data["reason"]), _("Reason")
    if event.action in {AuditAction.UPLOAD_WITHDRAWN, AuditAction.UPLOAD_DELETED}:
        parts.note = _(
            "The file and its analysis were removed from the case; its name, size and SHA-256 stay on record."
        )


def _split_parts(parts: EmailParts, event: AuditEvent, case: Case, user: User) -> None:
    parts.facts = [(_("New case"), str(event.data.get("child", "")))]


def _comment(event: AuditEvent) -> str:
    return str(event.data.get("comment") or event.data.get("message") or "")


_PARTS: dict[str, _PartsBuilder] = {
    A.MESSAGE_ADDED: _message_parts,
    A.SEND_SCOPE: _document_parts,
    A.DOCUMENT_SENT: _document_parts,
    A.SCOPE_ACCEPTED: _answer_parts,
    A.SCOPE_OBJECTED: _answer_parts,
    A.RESOLUTION_ACCEPTED: _answer_parts,
    A.RESOLUTION_REJECTED: _answer_parts,
    A.REQUEST_CUSTOMER: _comment_parts,
    A.START_INVESTIGATION: _comment_parts,
    A.RESUME_INVESTIGATION: _comment_parts,
    A.REOPEN: _comment_parts,
    A.EVIDENCE_REQUESTED: _evidence_parts,
    A.EVIDENCE_WITHDRAWN: _evidence_parts,
    A.PROPOSE_RESOLUTION: _proposal_parts,
    A.RESOLUTION_REMINDER: _proposal_parts,
    A.CLOSE: _close_parts,
    A.CASE_ASSIGNED: _assignment_parts,
    A.CASE_REASSIGNED: _assignment_parts,
    A.UPLOAD_STORED: _upload_parts,
    A.UPLOAD_REJECTED: _upload_parts,
    A.UPLOAD_WITHDRAWN: _upload_parts,
    A.UPLOAD_DELETED: _upload_parts,
    A.CASE_SPLIT: _split_parts,
}


def _email_parts(event: AuditEvent, user: User) -> EmailParts:
    """What this person reads about this event: the content itself, not only that something changed."""
    case = event.case
    assert case is not None
    page = site_url(reverse("cases:detail", args=[case.number]))
    parts = EmailParts(action_label=_("Open the case"), action_url=page)
    build = _PARTS.get(event.action)
    if build is not None:
        build(parts, event, case, user)
    return parts


def notification_email(
    event: AuditEvent, user: User, *, reply_address: str = "", other_address: str = ""
) -> EmailContent:
    """The e-mail one person receives for an event, in their language, with links from ``SITE_URL``.
    ``reply_address`` is its Reply-To; staff's e-mails also name ``other_address`` (the note address when
    a reply writes to the customer, the customer-visible one when a reply is an internal note)."""
    case = event.case
    assert case is not None
    with translation.override(user.language or settings.LANGUAGE_CODE):
        what = event_text(event)
        parts = _email_parts(event, user)
        context = {
            "case": case,
            "event": event,
            "what": what,
            "when": _when(event.created_at),
            "parts": parts,
            "preferences": site_url(reverse("communications:preferences")),
            "user": user,
            "language": translation.get_language(),
            "reply_address": reply_address,
            "other_address": other_address,
            # Mirrors communications.services._reply_addresses: staff answer internal events with a note.
            "reply_is_note": bool(reply_address) and not user.is_customer and not event.customer_visible,
        }
        subject = _("[%(number)s] %(what)s") % {"number": case.number, "what": what}
        if parts.document is not None:
            subject = parts.document.subject
        text = render_to_string("communications/email/notification.txt", context)
        html = render_to_string("communications/email/notification.html", context)
    return EmailContent(
        subject=subject.replace("\n", " ")[:250], text=text, html=html, document=parts.document
    )
