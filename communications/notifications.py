"""Who hears about a case event, under which kind, and what they read (e-mail text and HTML).

``ROUTES`` is the event x recipient table (docs/notifications.md shows it; a test keeps the two equal and
checks that every lifecycle step has a row). Reads only: ``communications.services.notification_send``
writes the rows and sends.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from accounts.models import User
from cases.models import AuditEvent, Case, CaseSummary, ResolutionType, ScopeVersion, TimelineEntry
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


K = NotificationKind
ROUTES: dict[str, Route] = {
    # Opening, assignment and the case's own fields
    "case_opened": _route(K.ACTIVITY, _CS),
    "case_assigned": _route(K.ASSIGNED, _CS),
    "case_reassigned": _route(K.ASSIGNED, _CS),
    "case_updated": _route(K.ACTIVITY, _S),
    "case_split": _route(K.ACTIVITY, _CS),
    # Scope
    "scope_saved": _route(K.ACTIVITY, _S),
    "scoping_started": _route(K.ACTIVITY, _S),
    "start_scoping": _route(K.ACTIVITY, _S),
    "send_scope": _route(K.DOCUMENT, _CS),
    "scope_accepted": _route(K.SCOPE_ANSWER, _S),
    "scope_objected": _route(K.SCOPE_ANSWER, _S),
    # Investigation: what the engineer asks, what the customer sends
    "start_investigation": _route(K.ACTIVITY, _CS),
    "request_customer": _route(K.REQUEST, _CS),
    "evidence_requested": _route(K.REQUEST, _CS),
    "evidence_withdrawn": _route(K.REQUEST, _CS),
    "message_added": _route(K.MESSAGE, _CS),
    "note_added": _route(K.MESSAGE, _S),
    "upload_stored": _route(K.UPLOAD, _S),
    "upload_rejected": _route(K.UPLOAD, _CS),
    "upload_withdrawn": _route(K.UPLOAD, _CS),
    "upload_deleted": _route(K.UPLOAD, _CS),
    "analysis_done": _route(K.ANALYSIS, _S),
    "document_sent": _route(K.DOCUMENT, _CS),
    # Resolution
    "propose_resolution": _route(K.RESOLUTION, _CS),
    "resume_investigation": _route(K.RESOLUTION, _CS),
    "resolution_accepted": _route(K.RESOLUTION, _S),
    "resolution_rejected": _route(K.RESOLUTION, _S),
    "resolution_reminder": _route(K.RESOLUTION, _C),
    "close": _route(K.CLOSED, _CS),
    "reopen": _route(K.CLOSED, _CS),
}
# Anything else (downloads, housekeeping, reviews) tells the owner only when someone else acted.
DEFAULT_ROUTE = _route(K.ACTIVITY, _S)
# Events nobody is e-mailed about: records, not news.
SILENT = frozenset({"upload_downloaded", "upload_archive_expanded", "upload_content_deleted"})


def route_for(action: str) -> Route | None:
    if action in SILENT:
        return None
    return ROUTES.get(action, DEFAULT_ROUTE)


def notification_kind(event: AuditEvent) -> str:
    route = route_for(event.action)
    return route.kind if route else NotificationKind.ACTIVITY


def _analysis_pending(case_id: int) -> bool:
    from analysis.models import AnalysisJob

    return AnalysisJob.objects.filter(upload__case_id=case_id, state__in=AnalysisJob.ACTIVE_STATES).exists()


def _customer_contacts(case: Case) -> list[User]:
    people = [case.customer_contact] if case.customer_contact_id else []
    people += case.followers.filter(role=User.Role.CUSTOMER)
    # Only people who can still see the case: a customer moved to another organisation is not told.
    return [p for p in people if p is not None and p.organisation_id == case.organisation_id]


def _staff(case: Case, event: AuditEvent) -> list[User]:
    people: list[User] = [case.owner] if case.owner is not None else []
    if event.action == "case_reassigned" and event.data.get("from"):
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
    if event.action == "analysis_done" and _analysis_pending(case.pk):
        return []  # one notice when the case's last pending job ends, not one per file of an archive
    people: list[User] = []
    if route.staff:
        people += _staff(case, event)
    if route.customers and event.customer_visible:
        people += _customer_contacts(case)
    recipients = {user.pk: user for user in people if user.is_active and user.pk != event.actor_id}
    return [user for user in recipients.values() if event.customer_visible or not user.is_customer]


# -- what people read ----------------------------------------------------------------------------------------

# One sentence per event, in the reader's language (English sources; the catalogue translates them).
ACTION_TEXT: dict[str, Promise] = {
    "case_opened": gettext_lazy("%(actor)s opened the case"),
    "case_assigned": gettext_lazy("The case is assigned to %(to)s"),
    "case_reassigned": gettext_lazy("The case is now handled by %(to)s (before: %(from)s)"),
    "case_updated": gettext_lazy("%(actor)s edited the case"),
    "case_split": gettext_lazy("%(actor)s split off case %(child)s"),
    "scope_saved": gettext_lazy("%(actor)s saved scope v%(version)s (draft)"),
    "scoping_started": gettext_lazy("%(actor)s started scoping"),
    "start_scoping": gettext_lazy("%(actor)s started scoping"),
    "send_scope": gettext_lazy("%(actor)s sent scope v%(version)s"),
    "scope_accepted": gettext_lazy("%(actor)s accepted scope v%(version)s"),
    "scope_objected": gettext_lazy("%(actor)s objected to scope v%(version)s"),
    "start_investigation": gettext_lazy("%(actor)s started the investigation"),
    "request_customer": gettext_lazy("%(actor)s asks for information"),
    "evidence_requested": gettext_lazy("%(actor)s asks for a file: %(label)s"),
    "evidence_withdrawn": gettext_lazy("%(actor)s no longer needs: %(label)s"),
    "message_added": gettext_lazy("New message from %(actor)s"),
    "note_added": gettext_lazy("Internal note by %(actor)s"),
    "upload_stored": gettext_lazy("%(actor)s uploaded %(filename)s"),
    "upload_rejected": gettext_lazy("%(filename)s was refused"),
    "upload_withdrawn": gettext_lazy("%(actor)s withdrew %(filename)s"),
    "upload_deleted": gettext_lazy("%(actor)s deleted %(filename)s"),
    "analysis_done": gettext_lazy("Analysis done"),
    "document_sent": gettext_lazy("%(actor)s sent the %(document)s"),
    "propose_resolution": gettext_lazy("%(actor)s proposed a resolution"),
    "resume_investigation": gettext_lazy(
        "%(actor)s withdrew the proposed resolution and resumed the investigation"
    ),
    "resolution_accepted": gettext_lazy("%(actor)s confirmed the proposed resolution"),
    "resolution_rejected": gettext_lazy("%(actor)s rejected the proposed resolution"),
    "resolution_reminder": gettext_lazy("Reminder: the proposed resolution is waiting for your answer"),
    "close": gettext_lazy("%(actor)s closed the case (%(resolution)s)"),
    "reopen": gettext_lazy("%(actor)s reopened the case"),
}
DOCUMENT_NAMES = {
    DocumentKind.SCOPE: gettext_lazy("scope message"),
    DocumentKind.FINDINGS: gettext_lazy("findings message"),
    DocumentKind.SUMMARY: gettext_lazy("closing summary"),
}


def event_text(event: AuditEvent) -> str:
    """One sentence saying what happened, in the active language."""
    template = ACTION_TEXT.get(event.action)
    if template is None:
        return event.action.replace("_", " ").capitalize()
    data = event.data or {}
    values = {key: data.get(key) or "—" for key in ("filename", "label", "version", "child")}
    values.update(
        actor=str(event.actor) if event.actor_id else _("The portal"),
        to=data.get("to_name") or data.get("to") or "—",
        resolution=ResolutionType(data["resolution_type"]).label
        if data.get("resolution_type") in ResolutionType.values
        else "—",
        document=DOCUMENT_NAMES.get(data.get("kind", ""), _("document")),
    )
    values["from"] = data.get("from_name") or data.get("from") or "—"
    return str(template) % values


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


def _key(data: dict[str, object], name: str) -> int | str:
    """An id kept in an event's data, for a lookup; absent, one that matches no row."""
    value = data.get(name)
    return value if isinstance(value, int | str) else 0


def _proposal_deadline(case: Case, proposal_id: int | str) -> str:
    from cases.conversation import resolution_deadlines
    from cases.models import ResolutionProposal

    proposal = ResolutionProposal.objects.select_related("case").filter(pk=proposal_id, case=case).first()
    if proposal is None:
        return ""
    return _("Without an answer by %(date)s, the case will be closed as “no response”.") % {
        "date": _when(resolution_deadlines(proposal=proposal).close_at)
    }


def _email_parts(event: AuditEvent, user: User) -> EmailParts:  # noqa: C901 - one branch per event kind
    """What this person reads about this event: the content itself, not only that something changed."""
    case = event.case
    assert case is not None
    data = event.data or {}
    page = site_url(reverse("cases:detail", args=[case.number]))
    parts = EmailParts(action_label=_("Open the case"), action_url=page)
    comment = str(data.get("comment") or data.get("message") or "")
    action = event.action
    if action == "message_added":
        entry = TimelineEntry.objects.filter(pk=_key(data, "entry"), internal=False).first()
        parts.quote = entry.body if entry else ""
        parts.action_label = _("Reply on the case page")
    elif action in {"send_scope", "document_sent"}:
        parts.document = SentDocument.objects.filter(pk=_key(data, "document"), case=case).first()
        if parts.document is None and action == "send_scope":
            scope = case.scope_versions.filter(version=_key(data, "version")).first()
            parts.sections = _scope_sections(scope) if scope else []
        if action == "send_scope" and user.is_customer:
            parts.action_label = _("Accept the scope or object to it")
            parts.action_url = page + "#scope"
    elif action in {"scope_accepted", "scope_objected", "resolution_accepted", "resolution_rejected"}:
        parts.quote, parts.quote_label = comment, _("Comment")
        if action == "resolution_accepted":
            parts.note = _("Close the case with its summary: the proposed resolution is filled in.")
    elif action in {"request_customer", "start_investigation", "resume_investigation", "reopen"}:
        parts.quote = comment
        if action == "request_customer" and user.is_customer:
            parts.action_label = _("Answer on the case page")
    elif action in {"evidence_requested", "evidence_withdrawn"}:
        item = case.evidence_items.filter(pk=_key(data, "item")).first()
        language = "zh-hans" if (translation.get_language() or "").startswith("zh") else "en"
        parts.facts = [(_("File needed"), item.label_in(language) if item else str(data.get("label", "")))]
        if item is not None and action == "evidence_requested":
            parts.quote, parts.quote_label = item.instructions_in(language), _("How to collect it")
        if user.is_customer and action == "evidence_requested":
            parts.action_label = _("Upload the file")
            parts.action_url = site_url(reverse("uploads:page", args=[case.number]))
    elif action in {"propose_resolution", "resolution_reminder"}:
        from cases.models import ResolutionProposal

        proposal = ResolutionProposal.objects.filter(pk=_key(data, "proposal"), case=case).first()
        parts.quote, parts.quote_label = (proposal.text if proposal else comment), _("Proposed resolution")
        if user.is_customer:
            parts.note = _proposal_deadline(case, _key(data, "proposal"))
            parts.action_label = _("Confirm or reject the resolution")
            parts.action_url = page + "#resolution"
    elif action == "close":
        summary = case.summaries.filter(version=_key(data, "summary_version")).first()
        parts.sections = _summary_sections(summary) if summary else []
        if data.get("resolution_type") == ResolutionType.NO_RESPONSE and data.get("proposal"):
            parts.note = _("Nobody answered the proposed resolution in time, so the case was closed.")
    elif action in {"case_assigned", "case_reassigned"}:
        if not user.is_customer and data.get("reason"):
            parts.quote, parts.quote_label = str(data["reason"]), _("Reason")
    elif action in {"upload_stored", "upload_rejected", "upload_withdrawn", "upload_deleted"}:
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
        if action in {"upload_withdrawn", "upload_deleted"}:
            parts.note = _(
                "The file and its analysis were removed from the case; its name, size and SHA-256 stay on record."
            )
    elif action == "case_split":
        parts.facts = [(_("New case"), str(data.get("child", "")))]
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
