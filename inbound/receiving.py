"""Mail in, stored: the raw bytes of a received message kept (once, whatever the retries of the sender),
its reading queued after the commit, queued again when the reading was lost, and deleted after
INBOUND_RETENTION_DAYS."""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from inbound import parsing
from inbound.models import InboundMessage
from outbox.services import outbox_publish, task_send_now
from uploads.files import upload_storage

State = InboundMessage.State


def inbound_message_receive(
    *,
    raw: bytes,
    via: str,
    envelope_from: str = "",
    envelope_to: list[str] | None = None,
    peer: str = "",
    size: int | None = None,
) -> tuple[InboundMessage, bool]:
    """Store a message as received and queue its reading after the commit; returns it and whether it is
    new. The same message delivered again (same Message-ID, or the same bytes) is stored once. ``size``
    is the real size when ``raw`` holds only the headers of a message too large to fetch."""
    message_id = parsing.message_id_of(raw)
    key = parsing.dedupe_key(raw, message_id)
    existing = InboundMessage.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return existing, False
    real_size = size if size is not None else len(raw)
    name = upload_storage().save(f"mail/{timezone.now():%Y/%m/%d}/{uuid.uuid4().hex}.eml", ContentFile(raw))
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                dedupe_key=key,
                message_id=message_id[:250],
                via=via,
                envelope_from=envelope_from[:254],
                envelope_to=[address[:254] for address in (envelope_to or [])][:100],
                peer=peer[:100],
                storage_name=name,
                size=real_size,
                sha256=hashlib.sha256(raw).hexdigest(),
                too_large=real_size > settings.INBOUND_MAX_MESSAGE_SIZE or len(raw) < real_size,
            )
            _queue(message.pk)
    except IntegrityError:  # the same message arrived on another connection at the same moment
        upload_storage().delete(name)
        return InboundMessage.objects.get(dedupe_key=key), False
    return message, True


def _queue(message_id: int) -> None:
    # An outbox row of the receiving transaction: published after the commit, or by the outbox dispatcher
    # when the broker is down then (docs/pipeline.md, "Outbox").
    outbox_publish(
        task="inbound.tasks.inbound_process", args=[message_id], key=f"inbound_process:{message_id}"
    )


def inbound_reconcile(*, now: datetime | None = None) -> int:
    """Queue again the messages still waiting for a worker (a publish lost after the commit, a worker
    killed mid-message) once their lease is over; returns how many."""
    now = now or timezone.now()
    waiting = InboundMessage.objects.filter(state=State.RECEIVED, received_at__lte=now - timedelta(minutes=2))
    waiting = waiting.filter(Q(lease_until__isnull=True) | Q(lease_until__lte=now))
    ids = list(waiting.values_list("pk", flat=True)[:500])
    for message_id in ids:
        task_send_now(task="inbound.tasks.inbound_process", args=[message_id])
    return len(ids)


def inbound_retention_apply(*, now: datetime | None = None) -> int:
    """Delete the raw bytes of messages handled more than INBOUND_RETENTION_DAYS ago (the row, with what
    became of the message, stays)."""
    now = now or timezone.now()
    due = InboundMessage.objects.filter(
        handled_at__lte=now - timedelta(days=settings.INBOUND_RETENTION_DAYS), content_deleted_at__isnull=True
    ).exclude(storage_name="")
    done = 0
    for message in due.iterator():
        updated = InboundMessage.objects.filter(pk=message.pk, content_deleted_at__isnull=True).update(
            content_deleted_at=now
        )
        if updated:
            upload_storage().delete(message.storage_name)
            done += 1
    return done


def inbound_raw_read(*, message: InboundMessage, limit: int | None = None) -> bytes:
    """The message as received (the first ``limit`` bytes)."""
    with upload_storage().open(message.storage_name, "rb") as handle:
        raw: bytes = handle.read(limit) if limit is not None else handle.read()
    return raw
