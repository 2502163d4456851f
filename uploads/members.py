"""The members of an expanded archive stored as uploads of the same case, or the archive rejected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from cases.audit import AuditAction, audit_record
from uploads import files, scanning
from uploads.duplicates import upload_duplicate_original
from uploads.handoff import upload_analysis_queue
from uploads.models import Upload


@dataclass
class MemberFile:
    """A file expanded from an archive, waiting in the spool; ``parent`` indexes an earlier member (a
    nested archive) or is None for the archive itself."""

    path: Path
    archive_path: str
    size: int
    sha256: str
    kind: str
    detected_kind: str
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
                created.append(_member_store(archive, member, parent=parent, now=now, stored=stored_names))
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


def _member_store(
    archive: Upload, member: MemberFile, *, parent: Upload, now: datetime, stored: list[str]
) -> Upload:
    """One member as a stored upload under ``parent``, scanned or queued for analysis after the commit;
    its stored name goes into ``stored`` as soon as the file is in the storage (removed on failure)."""
    if member.kind == Upload.Kind.ARCHIVE or not scanning.scan_enabled():
        scan, scan_detail = archive.scan, ""  # a container: its own members are scanned
    else:
        # clamd looks inside archives only within its limits (by default 25 MB per member),
        # so a clean archive does not make its members clean: each file is scanned itself.
        scan, scan_detail = scanning.scan_decide(size=member.size)
    # Earlier members of this archive are visible here too: a file twice in it is one analysis.
    original = upload_duplicate_original(case_id=archive.case_id, sha256=member.sha256, size=member.size)
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
        detected_kind=member.detected_kind,
        state=Upload.State.STORED,
        scan=scan,
        scan_detail=scan_detail,
        completed_at=now,
        metadata={"archive_path": member.archive_path},
    )
    upload.storage_name = files.store_file(
        source=member.path,
        name=files.storage_name_for(case_number=archive.case.number, upload_id=upload.pk),
    )
    stored.append(upload.storage_name)
    upload.save(update_fields=["storage_name"])
    if scan == Upload.Scan.PENDING:
        scanning.scan_queue(upload)  # held: analysis follows a clean answer
    elif member.kind != Upload.Kind.ARCHIVE:
        upload_analysis_queue(upload)
    return upload


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
