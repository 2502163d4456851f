"""Reads of mail in: the staff queue and one message with what the page shows of it."""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from accounts.capabilities import can_manage_mail_queue, can_see_internal
from accounts.models import User
from cases.selectors import case_visible_queryset
from inbound.models import InboundMessage


def inbound_list(*, state: str = "") -> QuerySet[InboundMessage]:
    """Received mail newest first; ``state`` narrows it ("queued" is the staff queue)."""
    messages = InboundMessage.objects.select_related("case", "sender", "handled_by")
    if state in InboundMessage.State.values:
        messages = messages.filter(state=state)
    return messages.order_by("-received_at", "-id")


def inbound_queue_count() -> int:
    return InboundMessage.objects.filter(state=InboundMessage.State.QUEUED).count()


def inbound_message_for_staff(*, user: User, message_id: int) -> InboundMessage:
    """One message for a support engineer or manager; anyone else gets 404 (mail from anywhere is in it)."""
    if not can_manage_mail_queue(user):
        raise Http404("No such message.")
    message = inbound_list().filter(pk=message_id).first()
    if message is None:
        raise Http404("No such message.")
    return message


def inbound_message_for_entry(*, user: User, entry_id: int) -> InboundMessage:
    """The message a timeline entry was written from, for staff who may see the entry's case."""
    if not can_see_internal(user):
        raise Http404("No such message.")
    message = (
        InboundMessage.objects.filter(timeline_entry_id=entry_id, case__in=case_visible_queryset(user))
        .select_related("case")
        .first()
    )
    if message is None:
        raise Http404("No such message.")
    return message
