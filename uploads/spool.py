"""Bytes that never became a stored file: the spool file (or the bucket's unfinished multipart upload)
removed after the commit, and the upload rejected with the reason."""

from __future__ import annotations

import uuid
from datetime import datetime

from cases.audit import AuditAction
from uploads import bucket, files
from uploads.handoff import upload_record
from uploads.locking import upload_lock_release_files
from uploads.models import Upload


def multipart_of(upload: Upload) -> tuple[str, str] | None:
    if not upload.multipart_id:
        return None
    return files.storage_name_for(case_number=upload.case.number, upload_id=upload.pk), upload.multipart_id


def spool_remove(upload_id: uuid.UUID | str, multipart: tuple[str, str] | None = None) -> None:
    files.spool_path(upload_id).unlink(missing_ok=True)
    upload_lock_release_files(upload_id)
    if multipart is not None:
        bucket.multipart_abort(upload_id=upload_id, name=multipart[0], multipart_id=multipart[1])


def upload_reject_without_file(
    upload: Upload, *, reason: str, action: AuditAction, data: dict[str, object], now: datetime
) -> None:
    """An unfinished upload that will never be stored: ``rejected`` with the reason, its file counted as
    gone, and an audit entry naming it."""
    upload.state = Upload.State.REJECTED
    upload.rejection_reason = reason
    upload.content_deleted_at = now
    upload.save(update_fields=["state", "rejection_reason", "content_deleted_at", "updated_at"])
    upload_record(
        case=upload.case,
        actor=None,
        action=action,
        data={"upload": str(upload.pk), "filename": upload.filename, **data},
    )
