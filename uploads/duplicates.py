"""Copies of a file already in the case: found by SHA-256 and size, never analysed twice; when an
original leaves the case its oldest copy takes its place."""

from __future__ import annotations

import uuid

from uploads.handoff import upload_analysis_queue, upload_expansion_queue
from uploads.models import Upload

# An original is a file still stored in the case whose analysis (or expansion) stands for its copies.
ORIGINAL_STATES = (Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED)


def upload_duplicate_original(
    *, case_id: int, sha256: str, size: int, exclude_id: uuid.UUID | None = None
) -> Upload | None:
    """The first upload of the case with these exact bytes (SHA-256 and size) whose file is still
    stored, or None. Copies point at the original, never at another copy."""
    if not sha256:
        return None
    candidates = Upload.objects.filter(
        case_id=case_id,
        sha256=sha256,
        size=size,
        state__in=ORIGINAL_STATES,
        duplicate_of__isnull=True,
        content_deleted_at__isnull=True,
    ).exclude(storage_name="")
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    return candidates.select_related("uploaded_by").order_by("completed_at", "created_at", "pk").first()


def upload_duplicates_promote(originals: list[Upload], *, removed: set[uuid.UUID]) -> list[Upload]:
    """The originals are leaving the case: each one's oldest remaining copy becomes the original, the
    other copies point at it, and it is analysed (or expanded) now, since nothing else stands for it."""
    heirs: list[Upload] = []
    for original in originals:
        copies = list(
            Upload.objects.filter(
                duplicate_of=original, state__in=ORIGINAL_STATES, content_deleted_at__isnull=True
            )
            .exclude(pk__in=removed)
            .order_by("completed_at", "created_at", "pk")
        )
        if not copies:
            continue
        heir, others = copies[0], copies[1:]
        Upload.objects.filter(pk__in=[copy.pk for copy in others]).update(duplicate_of=heir)
        heir.duplicate_of = None
        heir.save(update_fields=["duplicate_of", "updated_at"])
        if heir.scan != Upload.Scan.PENDING:  # a held file goes on once the scanner has cleared it
            if heir.kind == Upload.Kind.ARCHIVE:
                upload_expansion_queue(heir)
            else:
                upload_analysis_queue(heir)
        heirs.append(heir)
    return heirs
