"""Downloads of stored files: refused when the file cannot be served, recorded in the audit trail."""

from __future__ import annotations

from typing import BinaryIO

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from cases.audit import AuditAction
from uploads import bucket, files
from uploads.access import require_visible
from uploads.errors import UploadConflict, UploadGone, UploadRefused
from uploads.handoff import upload_record
from uploads.models import STORED_STATES, Upload


def upload_download_check(*, actor: User, upload: Upload) -> None:
    """Refuse a download that cannot be served: invisible case, deleted, unfinished or held file."""
    require_visible(actor, upload.case)
    if upload.withdrawn_at is not None:
        raise UploadGone(
            _("This file was withdrawn on %(date)s; its name, size and SHA-256 remain.")
            % {"date": timezone.localtime(upload.withdrawn_at).strftime("%Y-%m-%d %H:%M")}
        )
    if upload.content_deleted_at is not None:
        raise UploadGone(
            _("This file was deleted by the retention policy; its name, size and SHA-256 remain.")
        )
    if upload.state not in STORED_STATES or not upload.storage_name:
        raise UploadConflict(_("This upload is not complete yet."))
    if upload.scan == Upload.Scan.INFECTED:
        raise UploadRefused(
            _("This file is quarantined: the virus scanner found %(s)s.") % {"s": upload.scan_detail}
        )
    if upload.scan == Upload.Scan.PENDING:
        raise UploadConflict(_("This file is held until the virus scanner has checked it."))


def _record_download(*, actor: User, upload: Upload, how: str) -> None:
    upload_record(
        case=upload.case,
        actor=actor,
        action=AuditAction.UPLOAD_DOWNLOADED,
        data={"upload": str(upload.pk), "filename": upload.filename, "sha256": upload.sha256, "how": how},
    )


def upload_open_for_download(*, actor: User, upload: Upload) -> BinaryIO:
    """Open a stored file for streaming to ``actor`` (one streamed read, whatever the storage) and
    record the download in the audit trail."""
    upload_download_check(actor=actor, upload=upload)
    try:
        handle = files.open_stored(upload.storage_name)
    except Exception as error:
        if files.storage_is_local():
            raise
        raise bucket.unavailable(error) from error
    _record_download(actor=actor, upload=upload, how="streamed")
    return handle


def upload_download_link(*, actor: User, upload: Upload) -> str:
    """A short-lived presigned address of the object (STORAGE_PRESIGNED_DOWNLOADS), an inert attachment
    whatever its content; recorded in the audit trail like a streamed download."""
    upload_download_check(actor=actor, upload=upload)
    url = bucket.presigned_download_url(
        name=upload.storage_name,
        filename_header=files.content_disposition(upload.filename),
        expires=settings.STORAGE_PRESIGNED_EXPIRY,
    )
    _record_download(actor=actor, upload=upload, how="presigned")
    return url
