"""Celery tasks of mail in: thin, take ids, call services (STYLE.md rule 5)."""

from __future__ import annotations

import imaplib

from celery import shared_task
from django.conf import settings
from django.db import OperationalError

from inbound import imap, receiving, services

# The database or the storage for a moment: worth another try. Anything else is counted on the message
# (attempts), which the reconciler queues again until INBOUND_MAX_ATTEMPTS sends it to the staff queue.
_TRANSIENT = (OperationalError, ConnectionError, TimeoutError)


@shared_task(
    autoretry_for=_TRANSIENT,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    acks_late=True,
    # A 25 MiB message with a dump attached: parsing, hashing, storing and type detection take seconds.
    soft_time_limit=240,
    time_limit=300,
)
def inbound_process(message_id: int) -> str:
    """Read one received message and act on it (a reply, a new case, the staff queue, recorded only)."""
    message = services.inbound_message_process(message_id=message_id)
    return message.state if message is not None else "missing"


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90)
def inbound_reconcile() -> int:
    """Beat: queue again the messages whose task was lost or whose worker died."""
    return receiving.inbound_reconcile()


@shared_task(soft_time_limit=600, time_limit=660)
def inbound_retention_sweep() -> int:
    """Beat: delete the raw bytes of messages handled INBOUND_RETENTION_DAYS ago."""
    return receiving.inbound_retention_apply()


@shared_task(
    autoretry_for=(*_TRANSIENT, imaplib.IMAP4.abort),
    retry_backoff=True,
    max_retries=2,
    soft_time_limit=240,
    time_limit=300,
)
def inbound_imap_poll() -> int:
    """Beat (when INBOUND_IMAP_URL is set): take the mailbox's messages in; returns how many were new.
    Overlapping polls are harmless: a message is stored once and deleted from the mailbox after."""
    if not settings.INBOUND_IMAP_URL:
        return 0
    return imap.imap_poll(url=settings.INBOUND_IMAP_URL).stored
