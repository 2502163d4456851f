"""Every write to uploads goes through a function here (STYLE.md rules 2 and 4).

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
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.db.models import F, Sum, Value
from django.db.models.functions import Coalesce
from django.http import Http404
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.capabilities import can_act_for_vendor, can_delete_any_upload
from accounts.models import Organisation, User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput
from cases.live import case_touch
from cases.models import Case
from cases.records import customer_answered, follow
from cases.selectors import case_visible_to
from uploads import bucket, files, scanning
from uploads.errors import UploadConflict, UploadGone, UploadRefused, UploadTooLarge
from uploads.locking import upload_lock_release_files, upload_writer
from uploads.models import Upload

logger = logging.getLogger(__name__)

# States whose file is complete and in the uploads storage.
STORED_STATES = frozenset(
    {Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED, Upload.State.REJECTED}
)


# -- helpers ----------------------------------------------------------------------------------------------


def _require_visible(actor: User, case: Case) -> None:
    if not case_visible_to(user=actor, case_id=case.pk):
        raise UploadRefused(_("You cannot act on this case."))


def _expiry(now: datetime) -> datetime:
    return now + timedelta(hours=settings.UPLOAD_EXPIRY_HOURS)


def _queue_analysis(upload: Upload) -> None:
    """Hand a stored file to the analysis pipeline (job row now, task after commit); a duplicate is not
    analysed again: its original's analysis stands for both."""
    if upload.duplicate_of_id is not None:
        return
    try:
        from analysis.services import job_queue_for_upload
    except ImportError:  # the pipeline is not installed in this tree yet
        logger.warning("analysis.services.job_queue_for_upload is missing; upload %s not queued", upload.pk)
        return
    job_queue_for_upload(upload=upload)


def _queue_expansion(upload: Upload) -> None:
    if upload.duplicate_of_id is not None:  # its original's members are already in the case
        return
    from outbox.services import outbox_publish

    outbox_publish(
        task="uploads.tasks.upload_expand_archive",
        args=[str(upload.pk)],
        key=f"upload_expand_archive:{upload.pk}",
    )


# -- duplicates -------------------------------------------------------------------------------------------

# An original is a file still stored in the case whose analysis (or expansion) stands for its copies.
ORIGINAL_STATES = (Upload.State.STORED, Upload.State.ANALYSED, Upload.State.FAILED)


def upload_duplicate_original(
    *, case_id: int, sha256: str, size: int, exclude_id: object = None
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


def _promote_duplicates(originals: list[Upload], *, removed: set[object]) -> list[Upload]:
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
                _queue_expansion(heir)
            else:
                _queue_analysis(heir)
        heirs.append(heir)
    return heirs


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
    locked while the sums are taken so two creations cannot both squeeze into the last gigabyte. With a
    bucket the upload is a multipart upload from here on (chunks go to the bucket from any web host);
    ``spooled``: the caller writes the whole file to this host's spool and completes it at once."""
    _require_visible(actor, case)
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
        Organisation.objects.select_for_update().filter(pk=case.organisation_id).first()
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
    from outbox.services import outbox_publish

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
    if upload.multipart_id:
        # Every part is in the bucket already: join them (no copy), then read the object back only for
        # what this process did not see (the running hash of chunks taken by other hosts).
        try:
            bucket.multipart_complete(
                upload_id=upload.pk,
                name=name,
                multipart_id=upload.multipart_id,
                part_size=upload.part_size,
                size=upload.size,
            )
        except bucket.MissingParts as error:
            # Trying again cannot bring the bytes back: say so on the upload, as for a lost spool file.
            logger.error("upload %s cannot be completed: %s", upload.pk, error)
            with transaction.atomic():
                _reject_without_file(
                    upload,
                    reason=_("Its bytes were lost before it could be stored; please upload it again."),
                    action=AuditAction.UPLOAD_LOST,
                    data={"size": upload.size, "detail": str(error)[:300]},
                    now=timezone.now(),
                )
                transaction.on_commit(functools.partial(_remove_spool, upload.pk, _multipart_of(upload)))
            return upload
        digest = sha256 or bucket.object_sha256(name)
        with bucket.open_ranged(name, size=upload.size) as head:
            kind = files.detect_type_of_head(head.read(files.SNIFF_BYTES))
    else:
        digest = sha256 or files.file_sha256(path)
        kind = files.detect_type(path)
    scan, scan_detail = scanning.scan_decide(size=upload.size)
    if not upload.multipart_id:
        name = files.store_file(source=path, name=name)
    try:
        with transaction.atomic():
            now = timezone.now()
            upload.sha256 = digest
            upload.kind = kind
            upload.storage_name = name
            upload.state = Upload.State.STORED
            upload.completed_at = now
            upload.expires_at = None
            upload.scan, upload.scan_detail = scan, scan_detail
            upload.save(
                update_fields=[
                    "scan",
                    "scan_detail",
                    "sha256",
                    "kind",
                    "storage_name",
                    "state",
                    "completed_at",
                    "expires_at",
                    "updated_at",
                ]
            )
            # A customer's file while the case waits on them hands it back to the engineer, in the same event.
            case = Case.objects.select_for_update().get(pk=upload.case_id)
            # Under the case lock: of two copies finishing together, the second sees the first.
            original = upload_duplicate_original(
                case_id=case.pk, sha256=digest, size=upload.size, exclude_id=upload.pk
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
                "sha256": digest,
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
            if scan == Upload.Scan.PENDING:  # held: analysis or expansion follow a clean scan
                scanning.scan_queue(upload)
            elif kind == Upload.Kind.ARCHIVE:
                _queue_expansion(upload)
            else:
                _queue_analysis(upload)
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


def upload_terminate(*, actor: User, upload: Upload) -> None:
    """tus termination: drop an unfinished upload and its partial file; its reserved quota is freed.

    Only the uploader or support staff may; a finished upload is withdrawn instead (409 here)."""
    _require_visible(actor, upload.case)
    if upload.uploaded_by_id != actor.pk and not can_act_for_vendor(actor):
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
        audit_record(
            case=locked.case,
            actor=actor,
            action=AuditAction.UPLOAD_TERMINATED,
            data={"upload": str(locked.pk), "filename": locked.filename, "offset": locked.offset},
        )
        upload_id, multipart = locked.pk, _multipart_of(locked)
        locked.delete()
        transaction.on_commit(lambda: _remove_spool(upload_id, multipart))


def upload_remove(*, actor: User, upload: Upload, reason: str = "") -> Upload | None:
    """What ``DELETE /api/uploads/<id>/`` and the page's button do: cancel an unfinished upload (None:
    nothing is left of it) or withdraw a finished one (the record, as it now stands)."""
    if upload.state == Upload.State.RECEIVING:
        upload_terminate(actor=actor, upload=upload)
        return None
    return upload_withdraw(actor=actor, upload=upload, reason=reason)


def _family(upload: Upload) -> list[Upload]:
    """The upload and, for an archive, every member under it (nested archives included), locked."""
    family = [upload]
    parents = [upload.pk]
    while parents:
        members = list(Upload.objects.select_for_update().filter(parent_id__in=parents).order_by("pk"))
        family += members
        parents = [member.pk for member in members]
    return family


def upload_withdraw(*, actor: User, upload: Upload, reason: str = "") -> Upload:
    """Take a finished file out of the case: its uploader withdraws it, support engineers and managers
    delete any with a reason. The file (and an archive's members) leave the storage after the commit,
    their crashes and findings leave the case (the case-level findings are recomputed), the quota is
    freed; the record keeps name, size, SHA-256, who and why, like a file removed by retention.

    Refused with nothing changed: someone else's file (403), no reason from staff (400), a file being
    analysed, scanned or expanded, already withdrawn or deleted (409)."""
    _require_visible(actor, upload.case)
    reason = (reason or "").strip()
    if upload.uploaded_by_id != actor.pk and not can_delete_any_upload(actor):
        raise UploadRefused(
            _("Only the person who uploaded this file, or a support engineer, can withdraw it.")
        )
    if can_act_for_vendor(actor) and not reason:
        raise InvalidInput(_("Say why the file is deleted: the reason stays in the case's record."))
    from analysis.selectors import uploads_under_analysis
    from analysis.services import analysis_remove_for_uploads

    with transaction.atomic():
        # The upload rows first, then the case: the order upload completion takes them in.
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        _require_withdrawable(locked)
        family = _family(locked)
        ids = {item.pk for item in family}
        if any(item.scan == Upload.Scan.PENDING for item in family if item.content_deleted_at is None):
            raise UploadConflict(
                _("This file is being checked by the virus scanner; withdraw it when the check is done.")
            )
        if uploads_under_analysis(upload_ids=ids):
            raise UploadConflict(
                _(
                    "This file is being analysed; it can be withdrawn when its analysis has finished "
                    "(usually within a few minutes)."
                )
            )
        case = Case.objects.select_for_update().get(pk=locked.case_id)
        now = timezone.now()
        names = [
            item.storage_name for item in family if item.storage_name and item.content_deleted_at is None
        ]
        Upload.objects.filter(pk__in=ids, withdrawn_at__isnull=True).update(
            withdrawn_at=now,
            withdrawn_by=actor,
            withdrawal_reason=reason,
            content_deleted_at=Coalesce("content_deleted_at", Value(now)),
            updated_at=now,
        )
        originals = [item for item in family if item.duplicate_of_id is None]
        heirs = _promote_duplicates(originals, removed=ids)
        analysis_remove_for_uploads(case=case, upload_ids=ids)
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.UPLOAD_DELETED if can_act_for_vendor(actor) else AuditAction.UPLOAD_WITHDRAWN,
            customer_visible=True,
            data={
                "upload": str(locked.pk),
                "filename": locked.filename,
                "size": locked.size,
                "sha256": locked.sha256,
                "reason": reason,
                "members": len(family) - 1,
                "heirs": [str(heir.pk) for heir in heirs],
            },
        )
        storage = files.upload_storage()
        for name in names:
            transaction.on_commit(lambda name=name: storage.delete(name))
    locked.refresh_from_db()
    return locked


def _require_withdrawable(upload: Upload) -> None:
    if upload.withdrawn_at is not None:
        raise UploadConflict(
            _("This file was already withdrawn on %(date)s.")
            % {"date": timezone.localtime(upload.withdrawn_at).strftime("%Y-%m-%d %H:%M")}
        )
    if upload.state == Upload.State.RECEIVING:
        raise UploadConflict(_("This upload is not finished: cancel it instead."))
    if upload.content_deleted_at is not None or not upload.storage_name:
        raise UploadConflict(
            _("This file is already deleted (by the retention policy or its expiry); its record stays.")
        )
    expanding = (
        upload.kind == Upload.Kind.ARCHIVE
        and upload.state == Upload.State.STORED
        and upload.duplicate_of_id is None
        and "members" not in upload.metadata
    )
    if expanding:
        raise UploadConflict(
            _(
                "This archive is being expanded; withdraw it when its files are listed (usually within minutes)."
            )
        )


def _multipart_of(upload: Upload) -> tuple[str, str] | None:
    if not upload.multipart_id:
        return None
    return files.storage_name_for(case_number=upload.case.number, upload_id=upload.pk), upload.multipart_id


def _remove_spool(upload_id: object, multipart: tuple[str, str] | None = None) -> None:
    files.spool_path(upload_id).unlink(missing_ok=True)
    upload_lock_release_files(upload_id)
    if multipart is not None:
        bucket.multipart_abort(upload_id=upload_id, name=multipart[0], multipart_id=multipart[1])


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


# -- downloads --------------------------------------------------------------------------------------------


def upload_download_check(*, actor: User, upload: Upload) -> None:
    """Refuse a download that cannot be served: invisible case, deleted, unfinished or held file."""
    _require_visible(actor, upload.case)
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
    audit_record(
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


# -- archives ---------------------------------------------------------------------------------------------


@dataclass
class MemberFile:
    """A file expanded from an archive, waiting in the spool; ``parent`` indexes an earlier member (a
    nested archive) or is None for the archive itself."""

    path: Path
    archive_path: str
    size: int
    sha256: str
    kind: str
    parent: int | None


def upload_members_store(*, archive: Upload, members: list[MemberFile]) -> list[Upload]:
    """Turn the expanded members of an archive into stored uploads of the same case, in one transaction,
    each queued for analysis (nested archives are recorded, their own members under them)."""
    created: list[Upload] = []
    stored_names: list[str] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            for member in members:
                parent = archive if member.parent is None else created[member.parent]
                if member.kind == Upload.Kind.ARCHIVE or not scanning.scan_enabled():
                    scan, scan_detail = archive.scan, ""  # a container: its own members are scanned
                else:
                    # clamd looks inside archives only within its limits (by default 25 MB per member),
                    # so a clean archive does not make its members clean: each file is scanned itself.
                    scan, scan_detail = scanning.scan_decide(size=member.size)
                # Earlier members of this archive are visible here too: a file twice in it is one analysis.
                original = upload_duplicate_original(
                    case_id=archive.case_id, sha256=member.sha256, size=member.size
                )
                upload = Upload.objects.create(
                    case=archive.case,
                    uploaded_by=archive.uploaded_by,
                    parent=parent,
                    duplicate_of=original,
                    filename=files.filename_sanitise(member.archive_path),
                    size=member.size,
                    offset=member.size,
                    sha256=member.sha256,
                    kind=member.kind,
                    state=Upload.State.STORED,
                    scan=scan,
                    scan_detail=scan_detail,
                    completed_at=now,
                    metadata={"archive_path": member.archive_path},
                )
                name = files.store_file(
                    source=member.path,
                    name=files.storage_name_for(case_number=archive.case.number, upload_id=upload.pk),
                )
                stored_names.append(name)
                upload.storage_name = name
                upload.save(update_fields=["storage_name"])
                created.append(upload)
                if scan == Upload.Scan.PENDING:
                    scanning.scan_queue(upload)  # held: analysis follows a clean answer
                elif member.kind != Upload.Kind.ARCHIVE:
                    _queue_analysis(upload)
            archive.metadata = {**archive.metadata, "members": len(members)}
            archive.save(update_fields=["metadata", "updated_at"])
            audit_record(
                case=archive.case,
                actor=None,
                action=AuditAction.UPLOAD_ARCHIVE_EXPANDED,
                customer_visible=True,
                data={"upload": str(archive.pk), "filename": archive.filename, "members": len(members)},
            )
    except Exception:
        storage = files.upload_storage()
        for name in stored_names:
            storage.delete(name)
        raise
    return created


def upload_archive_reject(*, archive: Upload, reason: str) -> Upload:
    """Keep a hostile or unreadable archive as ``rejected`` with the reason shown to the customer."""
    with transaction.atomic():
        archive.state = Upload.State.REJECTED
        archive.rejection_reason = reason
        archive.save(update_fields=["state", "rejection_reason", "updated_at"])
        audit_record(
            case=archive.case,
            actor=None,
            action=AuditAction.UPLOAD_REJECTED,
            customer_visible=True,
            data={"upload": str(archive.pk), "filename": archive.filename, "reason": reason},
        )
    return archive


# -- housekeeping -----------------------------------------------------------------------------------------


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
                _reject_without_file(
                    upload,
                    reason=_("Abandoned: not finished before %(when)s.")
                    % {"when": upload.expires_at.strftime("%Y-%m-%d %H:%M UTC")},
                    action=AuditAction.UPLOAD_EXPIRED,
                    data={"offset": upload.offset},
                    now=now,
                )
                transaction.on_commit(functools.partial(_remove_spool, upload.pk, _multipart_of(upload)))
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
                        _reject_without_file(
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


def _reject_without_file(
    upload: Upload, *, reason: str, action: AuditAction, data: dict[str, object], now: datetime
) -> None:
    """An unfinished upload that will never be stored: ``rejected`` with the reason, its file counted as
    gone, and an audit entry naming it."""
    upload.state = Upload.State.REJECTED
    upload.rejection_reason = reason
    upload.content_deleted_at = now
    upload.save(update_fields=["state", "rejection_reason", "content_deleted_at", "updated_at"])
    audit_record(
        case=upload.case,
        actor=None,
        action=action,
        data={"upload": str(upload.pk), "filename": upload.filename, **data},
    )


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
            audit_record(
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
            transaction.on_commit(lambda name=upload.storage_name: storage.delete(name))
            done += 1
    return done
