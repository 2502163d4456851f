"""Reads of the communications app; who may see a case is decided by ``cases.selectors`` alone."""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatch

from django.core.cache import cache
from django.db.models import QuerySet

from accounts.models import User
from cases.models import Case
from communications.models import (
    EmailDelivery,
    EvidenceItem,
    Notification,
    NotificationKind,
    NotificationPreference,
    SentDocument,
)
from config.caching import cache_is_shared
from uploads.models import Upload

# States in which an upload's bytes are on the server (an analysis that failed still received the file).
RECEIVED_STATES = (Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED)


@dataclass(frozen=True)
class EvidenceStatus:
    item: EvidenceItem
    upload: Upload | None

    @property
    def received(self) -> bool:
        return self.upload is not None


def evidence_checklist(*, case: Case) -> list[EvidenceStatus]:
    """Each requested file with the upload that fulfils it, if any; two queries.

    Derived from the case's uploads' detected types: an upload ticks off at most one item, items with a
    file name pattern first, so "the minidumps" and "MEMORY.DMP" need two kernel dumps."""
    items = list(case.evidence_items.all())
    if not items:
        return []
    uploads = list(
        Upload.objects.filter(case=case, state__in=RECEIVED_STATES)
        .exclude(kind__in=["", Upload.Kind.ARCHIVE])
        .order_by("created_at")
        .only("id", "filename", "kind", "created_at", "state")
    )
    used: set[object] = set()
    matched: dict[int, Upload] = {}
    for item in sorted(items, key=lambda i: (not i.filename_pattern, i.position, i.pk)):
        for upload in uploads:
            if upload.pk in used or upload.kind != item.kind:
                continue
            if item.filename_pattern and not fnmatch(upload.filename.lower(), item.filename_pattern.lower()):
                continue
            matched[item.pk] = upload
            used.add(upload.pk)
            break
    return [EvidenceStatus(item=item, upload=matched.get(item.pk)) for item in items]


def documents_for_case(*, case: Case) -> QuerySet[SentDocument]:
    """Documents sent on the case, newest first; everyone who sees the case may read them."""
    return case.documents.select_related("author")


def deliveries_for_case(*, case: Case, limit: int = 50) -> list[EmailDelivery]:
    """The case's recent e-mails with their state (staff only: the caller checks)."""
    return list(case.email_deliveries.select_related("recipient").order_by("-created_at", "-id")[:limit])


UNREAD_KEY = "notifications-unread:{user_id}"
UNREAD_SECONDS = 300


def notifications_unread_count(*, user: User) -> int:
    """The top bar's count, on every page: kept in a shared cache (forgotten when a notice arrives or is
    read: ``notifications_unread_forget``), counted each time when the cache is per process."""
    if not user.is_authenticated:
        return 0
    if not cache_is_shared():
        return Notification.objects.filter(recipient=user, read_at__isnull=True).count()
    key = UNREAD_KEY.format(user_id=user.pk)
    count = cache.get(key)
    if count is None:
        count = Notification.objects.filter(recipient=user, read_at__isnull=True).count()
        cache.set(key, count, UNREAD_SECONDS)
    return int(count)


def notifications_unread_forget(*, user_ids: list[int]) -> None:
    if user_ids:
        cache.delete_many([UNREAD_KEY.format(user_id=user_id) for user_id in user_ids])


def notifications_for_user(*, user: User) -> QuerySet[Notification]:
    return Notification.objects.filter(recipient=user).select_related("case", "event__actor")


def notification_preferences(*, user: User) -> dict[str, tuple[bool, bool]]:
    """Every kind with its (e-mail, portal) switches; a kind never changed is on for both."""
    chosen = {p.kind: (p.email, p.portal) for p in NotificationPreference.objects.filter(user=user)}
    return {kind: chosen.get(kind, (True, True)) for kind in NotificationKind.values}
