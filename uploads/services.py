"""The tus lifecycle of an upload: created against the quotas, written chunk by chunk, completed
(hashed, typed by content, stored, handed on), terminated (STYLE.md rules 2 and 4).

The other writes have modules of their own: withdrawal, downloads, members (archives), housekeeping.

Keyword-only, typed; each checks the actor and the case, writes in one transaction, records an audit
event, and runs side effects (tasks, storage deletes) after the commit.
"""

from __future__ import annotations

import functools
import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organisation, User
from analysis.parsers.detect import Detection
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput
from cases.live import case_touch
from cases.models import Case
from cases.records import customer_answered, follow
from outbox.services import outbox_publish
from uploads import bucket, files, scanning
from uploads.access import is_staff, require_visible
from uploads.duplicates import upload_duplicate_original
from uploads.errors import UploadConflict, UploadGone, UploadRefused, UploadTooLarge
from uploads.handoff import upload_analysis_queue, upload_expansion_queue, upload_record
from uploads.locking import upload_lock_release_files, upload_writer
from uploads.models import Upload
from uploads.spool import multipart_of, spool_remove, upload_reject_without_file

logger = logging.getLogger(__name__)


def _expiry(now: datetime) -> datetime:
    return now + timedelta(hours=settings.UPLOAD_EXPIRY_HOURS)


# -- quotas -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaUsage:
    case_used: int
    case_limit: int
    organisation_used: int
    organisation_limit: int

    @property
    def available(self) -> int:
        return max(0, min(self.case_limit - self.case_used, self.organisation_limit - self.organisation_used))


def upload_quota_usage(*, case: Case) -> QuotaUsage:
    """Bytes reserved or stored for the case and its organisation; files removed by expiry or retention
    no longer count."""
    live = Upload.objects.filter(content_deleted_at__isnull=True)
    case_used = live.filter(case=case).aggregate(total=Sum("size"))["total"] or 0
    org_used = (
        live.filter(case__organisation_id=case.organisation_id).aggregate(total=Sum("size"))["total"] or 0
    )
    org_limit = case.organisation.quota_bytes
    return QuotaUsage(
        case_used=case_used,
        case_limit=settings.UPLOAD_CASE_QUOTA,
        organisation_used=org_used,
        organisation_limit=org_limit if org_limit is not None else settings.UPLOAD_ORGANISATION_QUOTA,
    )


def _require_quota(*, case: Case, size: int) -> None:
    usage = upload_quota_usage(case=case)
    if usage.case_used + size > usage.case_limit:
        raise UploadTooLarge(
            _("This file (%(size)s) does not fit in the case's quota: %(left)s left of %(limit)s.")
            % {
                "size": filesizeformat(size),
                "left": filesizeformat(max(0, usage.case_limit - usage.case_used)),
                "limit": filesizeformat(usage.case_limit),
            }
        )
    if usage.organisation_used + size > usage.organisation_limit:
        raise UploadTooLarge(
            _("This file (%(size)s) does not fit in your organisation's quota: %(left)s left of %(limit)s.")
            % {
                "size": filesizeformat(size),
                "left": filesizeformat(max(0, usage.organisation_limit - usage.organisation_used)),
                "limit": filesizeformat(usage.organisation_limit),
            }
        )


# -- tus lifecycle ----------------------------------------------------------------------------------------


def upload_create(
    *,
    actor: User,
    case: Case,
    filename: str,
    size: int,
    metadata: dict[str, str] | None = None,
    spooled: bool = False,
) -> Upload:
    """Start a tus upload: checks the case is open, the size and both quotas, then reserves the bytes.

    Quota is reserved by the new row itself (its declared size counts at once); the organisation row is
    locked (FOR NO KEY UPDATE: tests/uploads/test_create_concurrent.py) while the sums are taken so two
    creations cannot both squeeze into the last gigabyte. With a bucket the upload is a multipart upload
    from here on (chunks go to the bucket from any web host);
    ``spooled``: the caller writes the whole file to this host's spool and completes it at once."""
    require_visible(actor, case)
    if not case.is_open:
        raise UploadRefused(
            _("This case is closed: it no longer accepts uploads. Ask your engineer to reopen it.")
        )
    if size < 0:
        raise InvalidInput(_("Upload-Length must be a whole number of bytes."))
    if size > settings.UPLOAD_MAX_SIZE:
        raise UploadTooLarge(
            _("This file is %(size)s; the largest file accepted is %(max)s.")
            % {"size": filesizeformat(size), "max": filesizeformat(settings.UPLOAD_MAX_SIZE)}
        )
    now = timezone.now()
    upload_id = uuid.uuid4()
    multipart_id, part_size = "", 0
    if size > 0 and not spooled and files.storage_is_bucket():
        # Before the row: a bucket that does not answer refuses the upload (503) with nothing created.
        _require_quota(case=case, size=size)
        part_size = bucket.part_size_for(size)
        multipart_id = bucket.multipart_start(
            name=files.storage_name_for(case_number=case.number, upload_id=upload_id)
        )
    with transaction.atomic():
        Organisation.objects.select_for_update(no_key=True).filter(pk=case.organisation_id).first()
        _require_quota(case=case, size=size)
        upload = Upload.objects.create(
            id=upload_id,
            multipart_id=multipart_id,
            part_size=part_size,
            case=case,
            uploaded_by=actor,
            filename=files.filename_sanitise(filename),
            size=size,
            offset=0,
            metadata={key: value for key, value in (metadata or {}).items() if key != "filename"},
            expires_at=_expiry(now),
        )
        case_touch(case_id=case.pk)  # open case pages show the upload arriving
    if not multipart_id:
        files.spool_path(upload.pk).touch()
    if size == 0:
        with upload_writer(upload.pk) as locked:
            upload = upload_complete(upload=locked, sha256=None)
    return upload


def upload_store_bytes(
    *, actor: User, case: Case, filename: str, data: bytes, metadata: dict[str, str] | None = None
) -> Upload:
    """Store a small file given whole (demo data, mail attachments, server-side tools) along the same path
    as a tus upload: quota, spool, completion, type detection and the analysis job."""
    upload = upload_create(
        actor=actor, case=case, filename=filename, size=len(data), metadata=metadata, spooled=True
    )
    if not data:
        return upload
    with open(files.spool_path(upload.pk), "wb") as spool:
        spool.write(data)
        spool.flush()
        os.fsync(spool.fileno())
    upload = upload_chunk_accepted(upload=upload, old_offset=0, new_offset=len(data))
    with upload_writer(upload.pk) as locked:
        return upload_complete(upload=locked, sha256=None)


def upload_chunk_accepted(*, upload: Upload, old_offset: int, new_offset: int) -> Upload:
    """Record bytes already written and synced at ``old_offset``..``new_offset`` and push the expiry back.

    A conditional UPDATE, so a row whose offset moved meanwhile is never overwritten."""
    now = timezone.now()
    expires_at = _expiry(now)
    with transaction.atomic():
        updated = Upload.objects.filter(pk=upload.pk, offset=old_offset, state=Upload.State.RECEIVING).update(
            offset=new_offset, expires_at=expires_at, updated_at=now
        )
        if updated:
            case_touch(case_id=upload.case_id)  # the upload's progress on open case pages
    if updated != 1:
        raise UploadConflict(_("The upload changed while this chunk was written; ask for its offset again."))
    upload.offset = new_offset
    upload.expires_at = expires_at
    return upload


def upload_finish(*, upload: Upload, sha256: str | None) -> Upload:
    """The last chunk is in: complete at once when storing is a rename; when it is a copy of every byte
    to object storage (minutes for a large dump, past any request timeout), acknowledge the chunk and let
    a worker complete the upload. Either way the client has its answer with every byte synced."""
    if files.storage_is_local():
        return upload_complete(upload=upload, sha256=sha256)
    # The client is told every byte is in whatever the broker does: the outbox row commits with the chunk.
    outbox_publish(
        task="uploads.tasks.upload_finish_task",
        args=[str(upload.pk), sha256],
        key=f"upload_finish:{upload.pk}",
    )
    return upload


def upload_finish_queued(*, upload_id: str, sha256: str | None) -> Upload | None:
    """A worker completes an upload whose last chunk was acknowledged; already done is fine (a redelivered
    message), and so is a completion running elsewhere or an upload terminated meanwhile (None)."""
    try:
        with upload_writer(upload_id) as upload:
            if upload.state != Upload.State.RECEIVING or upload.offset != upload.size:
                return upload
            return upload_complete(upload=upload, sha256=sha256)
    except (UploadConflict, Http404):
        return None


def upload_complete(*, upload: Upload, sha256: str | None) -> Upload:
    """Finish an upload whose bytes are all in the spool: whole-file SHA-256, type by content, move to the
    uploads storage, state ``stored`` and, in the same transaction, the analysis job (or the archive
    expansion) queued for after the commit. ``sha256`` is the running hash when the caller kept it."""
    path = files.spool_path(upload.pk)
    if upload.offset != upload.size:
        raise UploadConflict(_("The upload is not complete yet."))
    name = files.storage_name_for(case_number=upload.case.number, upload_id=upload.pk)
    if upload.multipart_id and not _parts_joined(upload, name):
        return upload
    digest, detection = _hash_and_detect(upload, path=path, name=name, sha256=sha256)
    scan, scan_detail = scanning.scan_decide(size=upload.size)
    if not upload.multipart_id:
        name = files.store_file(source=path, name=name)
    try:
        with transaction.atomic():
            upload.sha256 = digest
            upload.kind, upload.detected_kind = detection.upload_type, detection.kind
            upload.storage_name = name
            upload.scan, upload.scan_detail = scan, scan_detail
            _record_stored(upload)
    except Exception:
        # The row still says ``receiving``: put the bytes back where a retried completion finds them (a
        # joined multipart object stays: completing again finds it and goes on).
        local = files.local_path(name)
        if upload.multipart_id:
            pass
        elif local is None:
            files.upload_storage().delete(name)
        elif Path(local).exists():
            Path(local).replace(path)
        raise
    upload_lock_release_files(upload.pk)
    return upload


def _parts_joined(upload: Upload, name: str) -> bool:
    """Every part is in the bucket already: join them (no copy). False when parts are missing: trying
    again cannot bring the bytes back, so the upload is rejected, as for a lost spool file."""
    try:
        bucket.multipart_complete(
            upload_id=upload.pk,
            name=name,
            multipart_id=upload.multipart_id,
            part_size=upload.part_size,
            size=upload.size,
        )
    except bucket.MissingParts as error:
        logger.error("upload %s cannot be completed: %s", upload.pk, error)
        with transaction.atomic():
            upload_reject_without_file(
                upload,
                reason=_("Its bytes were lost before it could be stored; please upload it again."),
                action=AuditAction.UPLOAD_LOST,
                data={"size": upload.size, "detail": str(error)[:300]},
                now=timezone.now(),
            )
            transaction.on_commit(functools.partial(spool_remove, upload.pk, multipart_of(upload)))
        return False
    return True


def _hash_and_detect(upload: Upload, *, path: Path, name: str, sha256: str | None) -> tuple[str, Detection]:
    """The file's SHA-256 and type, detected once here and stored for the analysis. A joined multipart
    object is read back only for what this process did not see (the running hash of chunks taken by other
    hosts) and its first bytes."""
    if not upload.multipart_id:
        return sha256 or files.file_sha256(path), files.detect_file(path)
    digest = sha256 or bucket.object_sha256(name)
    with bucket.open_ranged(name, size=upload.size) as head:
        return digest, files.detect_head(head.read(files.SNIFF_BYTES))


def _record_stored(upload: Upload) -> None:
    """Mark the upload stored (its hash, type, name and scan set by the caller), note a copy of a file
    already in the case, audit it, and hand it on: scan, expansion or analysis after the commit."""
    now = timezone.now()
    upload.state, upload.completed_at, upload.expires_at = Upload.State.STORED, now, None
    upload.save(update_fields=[*_STORED_FIELDS, "updated_at"])
    # A customer's file while the case waits on them hands it back to the engineer, in the same event.
    case = Case.objects.select_for_update().get(pk=upload.case_id)
    # Under the case lock: of two copies finishing together, the second sees the first.
    original = upload_duplicate_original(
        case_id=case.pk, sha256=upload.sha256, size=upload.size, exclude_id=upload.pk
    )
    if original is not None:
        upload.duplicate_of = original
        upload.save(update_fields=["duplicate_of"])
    from_state, to_state = customer_answered(case, upload.uploaded_by)
    follow(case, upload.uploaded_by)
    data: dict[str, object] = {
        "upload": str(upload.pk),
        "filename": upload.filename,
        "size": upload.size,
        "sha256": upload.sha256,
    }
    if original is not None:
        data.update(duplicate_of=str(original.pk), duplicate_of_filename=original.filename)
    audit_record(
        case=case,
        actor=upload.uploaded_by,
        action=AuditAction.UPLOAD_STORED,
        from_state=from_state,
        to_state=to_state,
        customer_visible=True,
        data=data,
    )
    if upload.scan == Upload.Scan.PENDING:  # held: analysis or expansion follow a clean scan
        scanning.scan_queue(upload)
    elif upload.kind == Upload.Kind.ARCHIVE:
        upload_expansion_queue(upload)
    else:
        upload_analysis_queue(upload)


_STORED_FIELDS = (
    "scan",
    "scan_detail",
    "sha256",
    "kind",
    "detected_kind",
    "storage_name",
    "state",
    "completed_at",
    "expires_at",
)


def upload_terminate(*, actor: User, upload: Upload) -> None:
    """tus termination: drop an unfinished upload and its partial file; its reserved quota is freed.

    Only the uploader or support staff may; a finished upload is withdrawn instead (409 here)."""
    require_visible(actor, upload.case)
    if upload.uploaded_by_id != actor.pk and not is_staff(actor):
        raise UploadRefused(_("Only the person who started this upload can cancel it."))
    if upload.state != Upload.State.RECEIVING:
        raise UploadConflict(
            _(
                "This upload is finished, so there is nothing to cancel. To remove the file, withdraw it "
                "(its name, size and SHA-256 stay on record)."
            )
        )
    with upload_writer(upload.pk) as locked, transaction.atomic():
        if locked.state != Upload.State.RECEIVING:  # finished while we were asking
            raise UploadConflict(_("This upload has just finished, so there is nothing to cancel."))
        upload_record(
            case=locked.case,
            actor=actor,
            action=AuditAction.UPLOAD_TERMINATED,
            data={"upload": str(locked.pk), "filename": locked.filename, "offset": locked.offset},
        )
        upload_id, multipart = locked.pk, multipart_of(locked)
        locked.delete()
        transaction.on_commit(lambda: spool_remove(upload_id, multipart))


def upload_check_writable(*, actor: User, upload: Upload, now: datetime | None = None) -> None:
    """Refuse a PATCH that cannot go ahead: someone else's, finished, expired or on a closed case."""
    now = now or timezone.now()
    if upload.state != Upload.State.RECEIVING:
        if upload.content_deleted_at is not None:
            raise UploadGone(_("This upload expired before it was finished; start it again."))
        raise UploadConflict(_("This upload is already complete."))
    if upload.expires_at is not None and upload.expires_at <= now:
        raise UploadGone(_("This upload expired before it was finished; start it again."))
    if not upload.case.is_open:
        raise UploadRefused(
            _("This case is closed: it no longer accepts uploads. Ask your engineer to reopen it.")
        )
    if upload.uploaded_by_id != actor.pk:
        raise UploadRefused(_("Only the person who started this upload can continue it."))
