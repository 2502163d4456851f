"""Automatic answers to mail in: a case opened, a message too large, a closed case, files refused."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from cases.models import Case
from communications.models import EmailDelivery
from config.links import site_url
from inbound import addresses
from inbound.models import InboundMessage
from outbox.services import outbox_publish


def inbound_answer(
    message: InboundMessage, *, user: User, case: Case | None, kind: str, reason: str = ""
) -> None:
    """An automatic answer to a person's message, by e-mail to the address the portal has for them (never
    to a From header, which anyone can write), at most INBOUND_AUTO_ANSWERS_PER_HOUR an hour per address,
    threaded under their message, marked ``Auto-Submitted: auto-replied``. Sent after the commit."""
    if not user.email or not user.is_active:
        return
    hour_ago = timezone.now() - timedelta(hours=1)
    recent = EmailDelivery.objects.filter(to__iexact=user.email, created_at__gte=hour_ago).exclude(
        in_reply_to=""
    )
    if recent.count() >= settings.INBOUND_AUTO_ANSWERS_PER_HOUR:
        message.detail = (
            message.detail + "\n" + _("No answer sent: too many automatic answers to this address this hour.")
        ).strip()
        return
    with translation.override(user.language or settings.LANGUAGE_CODE):
        context = {
            "kind": kind,
            "user": user,
            "case": case,
            "message": message,
            "reason": reason,
            "case_url": site_url(reverse("cases:detail", args=[case.number])) if case else "",
            "upload_url": site_url(reverse("uploads:page", args=[case.number])) if case else "",
            "cases_url": site_url(reverse("cases:list")),
            "stored": [row for row in message.attachments if row.get("outcome") == "stored"],
            "refused": [row for row in message.attachments if row.get("outcome") == "refused"],
            "max_size": settings.INBOUND_MAX_MESSAGE_SIZE,
        }
        body = render_to_string("inbound/email/answer.txt", context)
        if kind == "case_opened" and case is not None:
            subject = _("[%(number)s] We received your request: %(title)s") % {
                "number": case.number,
                "title": case.title,
            }
        else:
            subject = "Re: " + (message.subject or _("your e-mail"))
    reply_to = addresses.reply_address_for(case=case, user=user) if case is not None else ""
    delivery = EmailDelivery.objects.create(
        case=case,
        recipient=user,
        to=user.email,
        subject=" ".join(subject.split())[:250],
        body_text=body,
        message_id=addresses.message_id_new(),
        reply_to=reply_to,
        in_reply_to=message.message_id or f"inbound.{message.pk}@{addresses.mail_domain()}",
    )
    outbox_publish(
        task="communications.tasks.email_deliver", args=[delivery.pk], key=f"email_deliver:{delivery.pk}"
    )
