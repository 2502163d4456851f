"""Template tags of the communications app: the top-bar badge, the upload page's evidence checklist, filters."""

from __future__ import annotations

from typing import TypedDict

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from cases.models import AuditEvent, Case, State
from communications.models import EvidenceItem, Notification
from communications.notifications import event_text
from communications.selectors import EvidenceStatus, evidence_checklist, notifications_unread_count
from communications.text_html import text_to_html

register = template.Library()


def _language(context: template.Context) -> str:
    return "zh-hans" if (get_language() or "").startswith("zh") else "en"


class ChecklistContext(TypedDict):
    """What ``communications/_checklist.html`` shows: the requested files and the uploads fulfilling them."""

    checklist: list[EvidenceStatus]
    language: str
    case: Case


@register.inclusion_tag("communications/_checklist.html", takes_context=True)
def evidence_checklist_for(context: template.Context) -> ChecklistContext:
    """The case's evidence checklist in the reader's language."""
    case: Case = context["case"]
    return ChecklistContext(checklist=evidence_checklist(case=case), language=_language(context), case=case)


@register.simple_tag(takes_context=True)
def unread_notifications(context: template.Context) -> int:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return 0
    return notifications_unread_count(user=user)


@register.filter
def evidence_label(item: EvidenceItem, language: str) -> str:
    return item.label_in(language)


@register.filter
def evidence_instructions(item: EvidenceItem, language: str) -> str:
    return item.instructions_in(language)


@register.filter
def continuation(text: str, spaces: int = 3) -> str:
    """Indent every line after the first, so a multi-line value stays inside its list item."""
    return ("\n" + " " * int(spaces)).join(str(text).strip().splitlines())


@register.filter
def document_html(text: str) -> SafeString:
    return text_to_html(text)


@register.simple_tag
def notification_text(notification: Notification) -> str:
    return event_text(notification.event)


@register.simple_tag
def event_sentence(event: AuditEvent) -> str:
    """What an audit event says, as a sentence in the reader's language."""
    return event_text(event)


@register.filter
def state_label(value: str) -> str:
    """A case state's name for people (``awaiting_customer`` -> "Awaiting customer")."""
    return str(dict(State.choices).get(value, value))


@register.filter
def action_label(action: str) -> str:
    """An audit action's name for people, for filters ("scope_accepted" -> "Scope accepted")."""
    return action.replace("_", " ").capitalize()
