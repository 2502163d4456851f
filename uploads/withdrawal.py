"""Taking a finished file out of the case: withdrawn by its uploader, deleted by staff with a reason."""

from __future__ import annotations

import functools

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.capabilities import can_delete_any_upload
from accounts.models import User
from analysis.queueing import analysis_remove_for_uploads
from analysis.selectors import uploads_under_analysis
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput
from cases.models import Case
from uploads import files
from uploads.access import is_staff, require_visible
from uploads.duplicates import upload_duplicates_promote
from uploads.errors import UploadConflict, UploadRefused
from uploads.models import Upload
from uploads.services import upload_terminate


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
    require_visible(actor, upload.case)
    reason = (reason or "").strip()
    if upload.uploaded_by_id != actor.pk and not can_delete_any_upload(actor):
        raise UploadRefused(
            _("Only the person who uploaded this file, or a support engineer, can withdraw it.")
        )
    if is_staff(actor) and not reason:
        raise InvalidInput(_("Say why the file is deleted: the reason stays in the case's record."))
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
        _withdraw_family(actor=actor, upload=locked, family=family, reason=reason)
    locked.refresh_from_db()
    return locked


def _withdraw_family(*, actor: User, upload: Upload, family: list[Upload], reason: str) -> None:
    """Mark the locked family withdrawn, let copies take the place of the originals, take their analysis
    out of the case, audit it and delete the files after the commit."""
    ids = {item.pk for item in family}
    case = Case.objects.select_for_update().get(pk=upload.case_id)
    now = timezone.now()
    names = [item.storage_name for item in family if item.storage_name and item.content_deleted_at is None]
    Upload.objects.filter(pk__in=ids, withdrawn_at__isnull=True).update(
        withdrawn_at=now,
        withdrawn_by=actor,
        withdrawal_reason=reason,
        content_deleted_at=Coalesce("content_deleted_at", Value(now)),
        updated_at=now,
    )
    originals = [item for item in family if item.duplicate_of_id is None]
    heirs = upload_duplicates_promote(originals, removed=ids)
    analysis_remove_for_uploads(case=case, upload_ids=ids)
    audit_record(
        case=case,
        actor=actor,
        action=AuditAction.UPLOAD_DELETED if is_staff(actor) else AuditAction.UPLOAD_WITHDRAWN,
        customer_visible=True,
        data={
            "upload": str(upload.pk),
            "filename": upload.filename,
            "size": upload.size,
            "sha256": upload.sha256,
            "reason": reason,
            "members": len(family) - 1,
            "heirs": [str(heir.pk) for heir in heirs],
        },
    )
    storage = files.upload_storage()
    for name in names:
        transaction.on_commit(functools.partial(storage.delete, name))


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
