"""One writer per upload: a row lock where the database has one, a file lock where it does not."""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection, transaction
from django.http import Http404
from django.utils.translation import gettext as _

from uploads.errors import UploadConflict
from uploads.files import lock_path
from uploads.models import Upload


def _busy() -> UploadConflict:
    return UploadConflict(_("Another request is writing this upload; retry when it has finished."))


@contextmanager
def upload_writer(upload_id: uuid.UUID | str) -> Iterator[Upload]:
    """Yield the upload as its only writer, or raise UploadConflict (409) at once if someone else is.

    PostgreSQL: ``SELECT ... FOR UPDATE NOWAIT`` held for the whole request, so the row's offset cannot
    move under us. SQLite has no row locks and its write lock covers the whole database, so holding a
    transaction through a slow chunk would stall every other writer: there a ``flock`` on a per-upload
    lock file (non-blocking) plays the same part, and offsets are written with a conditional UPDATE."""
    if connection.features.has_select_for_update_nowait:
        with transaction.atomic():
            try:
                upload = (
                    Upload.objects.select_for_update(nowait=True, of=("self",))
                    .select_related("case", "uploaded_by")
                    .get(pk=upload_id)
                )
            except Upload.DoesNotExist:
                raise Http404("No such upload.") from None
            except DatabaseError:
                raise _busy() from None
            yield upload
        return
    fd = os.open(lock_path(upload_id), os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy() from None
        try:
            upload = Upload.objects.select_related("case", "uploaded_by").get(pk=upload_id)
        except Upload.DoesNotExist:
            raise Http404("No such upload.") from None
        yield upload
    finally:
        os.close(fd)


def upload_lock_release_files(upload_id: uuid.UUID | str) -> None:
    """Remove the lock file of an upload that will never be written again."""
    lock_path(upload_id).unlink(missing_ok=True)
