"""Periodic upload housekeeping (beat): abandoned uploads expired, stranded ones finished, files of
long-closed cases deleted by the retention policy."""

from __future__ import annotations

import functools
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.audit import AuditAction
from cases.models import Case
from uploads import files
from uploads.errors import UploadConflict
from uploads.handoff import upload_record
from uploads.locking import upload_writer
from uploads.models import Upload
from uploads.services import upload_complete
from uploads.spool import multipart_of, spool_remove, upload_reject_without_file

logger = logging.getLogger(__name__)


def upload_expire_abandoned(*, now: datetime | None = None) -> int:
    """Remove the partial files of uploads past their expiry; the row stays as ``rejected`` with the
    reason and an audit entry. Uploads being written right now are skipped."""
    now = now or timezone.now()
    expired_ids = list(
        Upload.objects.filter(state=Upload.State.RECEIVING, expires_at__lte=now)
        .exclude(offset=F("size"), size__gt=0)  # every byte is in: upload_finish_stranded's, never deleted
        .values_list("pk", flat=True)
    )
    done = 0
    for upload_id in expired_ids:
        try:
            with upload_writer(upload_id) as upload, transaction.atomic():
                if upload.state != Upload.State.RECEIVING or not upload.expires_at or upload.expires_at > now:
                    continue
                upload_reject_without_file(
                    upload,
                    reason=_("Abandoned: not finished before %(when)s.")
                    % {"when": upload.expires_at.strftime("%Y-%m-%d %H:%M UTC")},
                    action=AuditAction.UPLOAD_EXPIRED,
                    data={"offset": upload.offset},
                    now=now,
                )
                transaction.on_commit(functools.partial(spool_remove, upload.pk, multipart_of(upload)))
                done += 1
        except Exception as error:  # a row being written or deleted right now is left for the next sweep
            logger.info("expiry skipped upload %s: %s", upload_id, error)
    return done


STRANDED_AFTER = timedelta(minutes=10)


def upload_finish_stranded(*, now: datetime | None = None) -> int:
    """Finish uploads whose every byte arrived but whose completion failed (a database error, a process
    killed while moving the file into storage). The client was told all its bytes are in and will not
    send them again, so the server finishes on its own; a completion still running holds the writer lock
    and is skipped. If the bytes themselves are gone, the upload is rejected with the reason, audited."""
    now = now or timezone.now()
    stranded_ids = list(
        Upload.objects.filter(
            state=Upload.State.RECEIVING, offset=F("size"), size__gt=0, updated_at__lte=now - STRANDED_AFTER
        ).values_list("pk", flat=True)
    )
    done = 0
    for upload_id in stranded_ids:
        try:
            with upload_writer(upload_id) as upload:
                if upload.state != Upload.State.RECEIVING or upload.offset != upload.size:
                    continue
                if upload.multipart_id or files.spool_path(upload.pk).exists():
                    upload_complete(upload=upload, sha256=None)
                else:
                    with transaction.atomic():
                        upload_reject_without_file(
                            upload,
                            reason=_(
                                "Its bytes were lost before it could be stored; please upload it again."
                            ),
                            action=AuditAction.UPLOAD_LOST,
                            data={"size": upload.size},
                            now=now,
                        )
                done += 1
        except UploadConflict:  # being finished right now
            continue
        except Exception:  # left for the next sweep; the bytes stay where they are
            logger.exception("could not finish stranded upload %s", upload_id)
    return done


def upload_retention_date(*, case: Case) -> datetime | None:
    """When the case's files will be deleted, or None while the case is open."""
    if case.closed_at is None:
        return None
    return case.closed_at + timedelta(days=settings.UPLOAD_RETENTION_DAYS)


def upload_retention_apply(*, now: datetime | None = None) -> int:
    """Delete the files of cases closed more than UPLOAD_RETENTION_DAYS ago, keeping name, size and
    SHA-256; one audit entry per file, the storage delete after the commit."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.UPLOAD_RETENTION_DAYS)
    due = Upload.objects.filter(
        case__state="closed", case__closed_at__lte=cutoff, content_deleted_at__isnull=True
    ).exclude(storage_name="")
    storage = files.upload_storage()
    done = 0
    for upload in due.select_related("case").iterator():
        with transaction.atomic():
            updated = Upload.objects.filter(pk=upload.pk, content_deleted_at__isnull=True).update(
                content_deleted_at=now, updated_at=now
            )
            if not updated:
                continue
            upload_record(
                case=upload.case,
                actor=None,
                action=AuditAction.UPLOAD_CONTENT_DELETED,
                data={
                    "upload": str(upload.pk),
                    "filename": upload.filename,
                    "size": upload.size,
                    "sha256": upload.sha256,
                    "reason": "retention",
                },
            )
            transaction.on_commit(functools.partial(storage.delete, upload.storage_name))
            done += 1
    return done
