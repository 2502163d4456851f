"""Who hears about a case event, and what they read."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from cases.models import AuditEvent


def notification_recipients(event: AuditEvent) -> list[User]:
    """The owner (when someone else acted), and for customer-visible events the organisation's account
    managers, who follow every customer-visible change of the cases they brought in."""
    case = event.case
    if case is None:
        return []
    recipients: dict[int, User] = {}
    if case.owner_id and case.owner_id != event.actor_id:
        recipients[case.owner_id] = case.owner
    if event.customer_visible:
        for manager in case.organisation.account_managers.filter(is_active=True):
            if manager.pk != event.actor_id:
                recipients[manager.pk] = manager
    return [user for user in recipients.values() if user.email and user.is_active]


def notification_send(event: AuditEvent) -> int:
    """Send one e-mail per recipient in their language; returns how many were sent."""
    case = event.case
    sent = 0
    for user in notification_recipients(event):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            subject = _("[%(number)s] %(action)s") % {
                "number": case.number,
                "action": event.action.replace("_", " "),
            }
            link = settings.SITE_URL + reverse("cases:detail", args=[case.number])
            body = _("%(actor)s: %(action)s on case %(number)s (%(title)s).\n\n%(link)s") % {
                "actor": event.actor or _("The portal"),
                "action": event.action.replace("_", " "),
                "number": case.number,
                "title": case.title,
                "link": link,
            }
        sent += send_mail(subject, body, None, [user.email])
    return sent
