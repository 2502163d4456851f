"""Celery tasks of the oversight app: thin, take ids, call services (STYLE.md rule 5)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from config.links import site_url
from oversight import services
from oversight.models import ClockNotification


@shared_task(soft_time_limit=240, time_limit=300)
def sla_sweep() -> int:
    """Evaluate every running clock; warnings and breaches are recorded once and e-mailed after commit."""
    return services.sla_sweep().notifications


@shared_task(
    autoretry_for=(SMTPException, ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def sla_notification_send(notification_id: int) -> int:
    """E-mail the owner and the managers about one warning or breach, once."""
    notification = (
        ClockNotification.objects.select_related("case__owner")
        .filter(pk=notification_id, sent_at__isnull=True)
        .first()
    )
    if notification is None:
        return 0
    case = notification.case
    link = site_url(reverse("cases:detail", args=[case.number]))
    sent: list[str] = []
    for user in services.sla_notification_recipients(notification):
        with translation.override(user.language or settings.LANGUAGE_CODE):
            values = {
                "number": case.number,
                "title": case.title,
                "clock": notification.get_clock_display(),
                "link": link,
            }
            if notification.kind == ClockNotification.Kind.BREACH:
                subject = _("[%(number)s] Service level breached: %(clock)s") % values
                body = (
                    _("The %(clock)s target of case %(number)s (%(title)s) is breached.\n\n%(link)s") % values
                )
            else:
                subject = _("[%(number)s] Service level at risk: %(clock)s") % values
                body = _("The %(clock)s target of case %(number)s (%(title)s) is close.\n\n%(link)s") % values
        if send_mail(subject, body, None, [user.email]):
            sent.append(user.email)
    services.sla_notification_mark_sent(notification=notification, recipients=sent)
    return len(sent)
