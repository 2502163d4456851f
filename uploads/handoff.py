"""Where a stored file goes next, and the quiet audit entry of the upload side.

A stored file is handed to the analysis pipeline (a job row now, its task after the commit) or, for an
archive, to the expansion task through the outbox; the scanner does the same once a held file is clean.
"""

from __future__ import annotations

from accounts.models import User
from analysis.queueing import job_queue_for_upload
from cases.audit import AuditAction, audit_record
from cases.models import AuditEvent, Case
from outbox.services import outbox_publish
from uploads.models import Upload


def upload_record(
    *, case: Case, actor: User | None, action: AuditAction, data: dict[str, object]
) -> AuditEvent:
    """An audit entry of an upload that is a record only (``cases.audit.RECORDS_ONLY``): nobody is told;
    open case pages still show it (a file's content deleted, an upload expired)."""
    return audit_record(case=case, actor=actor, action=action, data=data)


def upload_analysis_queue(upload: Upload) -> None:
    """Hand a stored file to the analysis pipeline (job row now, task after commit); a duplicate is not
    analysed again: its original's analysis stands for both."""
    if upload.duplicate_of_id is not None:
        return
    job_queue_for_upload(upload=upload)


def upload_expansion_queue(upload: Upload) -> None:
    if upload.duplicate_of_id is not None:  # its original's members are already in the case
        return
    outbox_publish(
        task="uploads.tasks.upload_expand_archive",
        args=[str(upload.pk)],
        key=f"upload_expand_archive:{upload.pk}",
    )
