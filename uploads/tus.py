"""tus 1.0.0 server side: header parsing and the streamed PATCH (core, creation, termination, checksum,
expiration). Reference: tus-resumable-upload-protocol ``protocol.md`` (1.0.x).

A chunk goes from the request to the spool file in large blocks, written at its offset with ``pwrite``,
hashed as it goes, synced before the new offset is acknowledged; a failed or mismatched chunk is cut
back off the file. Views stay thin: they parse headers here and call :func:`tus_patch`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _

from accounts.models import User
from cases.errors import InvalidInput
from config import metrics
from uploads import bucket, bucket_parts, files, services
from uploads.errors import (
    ChecksumMismatch,
    StorageFailed,
    UnsupportedMediaType,
    UploadConflict,
    UploadGone,
    UploadTooLarge,
)
from uploads.locking import upload_writer
from uploads.models import Upload

logger = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256")
PATCH_CONTENT_TYPE = "application/offset+octet-stream"
# 1 MiB blocks: gunicorn reads a body of known length in recv() calls of up to 1 MiB, so Python's
# per-block overhead stays small without holding much memory (measured in bench/upload.py).
BLOCK_SIZE = 1024 * 1024
WRITEBACK_EVERY = 8 * BLOCK_SIZE
WRITE_AHEAD = 2  # blocks read but not yet written: the memory a slow disk may hold up
_START_WRITEBACK = hasattr(os, "posix_fadvise")


@functools.cache
def _hasher() -> ThreadPoolExecutor:
    """One small pool per process, made on first use (after gunicorn has forked its workers)."""
    return ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="tus-hash")


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Checksum:
    algorithm: str
    digest: bytes


def header_int(value: str | None, name: str) -> int:
    """A non-negative decimal header in ASCII digits; anything else is a 400. (``str.isdigit`` accepts
    ``"\xb2"`` and other Unicode digits that ``int`` then refuses or reads as a different number.)"""
    value = (value or "").strip()
    if not value or not value.isascii() or not value.isdigit():
        raise InvalidInput(_("%(header)s must be a non-negative whole number.") % {"header": name})
    return int(value)


def metadata_parse(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64(value)`` pairs; bad pairs are a 400."""
    result: dict[str, str] = {}
    if not value:
        return result
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if not parts[0]:
            continue
        if len(parts) > 2:
            raise InvalidInput(_("Upload-Metadata is not valid."))
        try:
            decoded = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (ValueError, UnicodeDecodeError):  # binascii.Error is a ValueError; so is non-ASCII input
            raise InvalidInput(_("Upload-Metadata is not valid.")) from None
        # Other metadata is stored as JSON, and PostgreSQL's jsonb refuses NUL; a file name is sanitised.
        if "\x00" in decoded and parts[0] not in {"filename", "name"}:
            raise InvalidInput(_("Upload-Metadata is not valid."))
        result[parts[0][:64]] = decoded[:1024]
    return result


def checksum_parse(value: str | None) -> Checksum | None:
    """``Upload-Checksum: <algorithm> <base64 digest>``; an unknown algorithm is a 400 (spec)."""
    if not value:
        return None
    algorithm, _sep, encoded = value.strip().partition(" ")
    algorithm = algorithm.lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise InvalidInput(_("Checksum algorithm not supported; use sha256 or sha1."))
    try:
        digest = base64.b64decode(encoded.strip(), validate=True)
    except ValueError:  # binascii.Error, or a non-ASCII character
        raise InvalidInput(_("Upload-Checksum is not valid base64.")) from None
    if len(digest) != hashlib.new(algorithm).digest_size:
        raise InvalidInput(
            _("Upload-Checksum has the wrong length for %(algorithm)s.") % {"algorithm": algorithm}
        )
    return Checksum(algorithm=algorithm, digest=digest)


# -- running whole-file hash ------------------------------------------------------------------------------
# hashlib state cannot be saved to the database, so each process keeps the SHA-256 of the bytes it has
# acknowledged, keyed by upload and offset. Acknowledged bytes never change, so a state whose offset
# equals the upload's offset is exactly the hash of its file; any other case (another worker took a
# chunk, a restart) falls back to re-reading the file once at completion.
_RUNNING: OrderedDict[str, tuple[int, Any]] = OrderedDict()
_RUNNING_LOCK = threading.Lock()
_RUNNING_MAX = 256


def _running_take(upload_id: str, offset: int) -> Any | None:
    with _RUNNING_LOCK:
        entry = _RUNNING.pop(upload_id, None)
    if offset == 0:
        return hashlib.sha256()
    if entry is not None and entry[0] == offset:
        return entry[1]
    return None


def _running_keep(upload_id: str, offset: int, state: Any) -> None:
    with _RUNNING_LOCK:
        _RUNNING[upload_id] = (offset, state)
        while len(_RUNNING) > _RUNNING_MAX:
            _RUNNING.popitem(last=False)


def _pwrite_all(fd: int, data: bytes | memoryview, position: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, position)
        view = view[written:]
        position += written


def tus_patch(
    *,
    actor: User,
    upload_id: str,
    case_id: int,
    content_type: str,
    offset: int,
    length: int | None,
    checksum: Checksum | None,
    stream: Readable,
) -> Upload:
    """Append one chunk at ``offset`` as the upload's only writer; complete the upload when it is full.

    Raises 409 (wrong offset, busy), 410 (expired), 403 (closed case, someone else's), 413 (past the
    declared length) or 460 (checksum mismatch; the chunk is discarded and the offset unchanged)."""
    if content_type.split(";")[0].strip().lower() != PATCH_CONTENT_TYPE:
        raise UnsupportedMediaType(_("A tus PATCH must have Content-Type: application/offset+octet-stream."))
    with upload_writer(upload_id) as upload:
        if upload.case_id != case_id:
            raise Http404("No such upload.")
        _require_chunk_fits(actor=actor, upload=upload, offset=offset, length=length)
        key = str(upload.pk)
        started = time.monotonic()
        end, running = _write_chunk(
            upload, key=key, offset=offset, length=length, checksum=checksum, stream=stream
        )
        if end == offset:
            return upload
        services.upload_chunk_accepted(upload=upload, old_offset=offset, new_offset=end)
        metrics.upload_bytes_received(
            end - offset,
            storage="bucket" if upload.multipart_id else "disk",
            seconds=time.monotonic() - started,
        )
        if upload.multipart_id and offset % upload.part_size:
            # The bytes in front of this chunk are in its parts or its own tail now.
            stored_id = upload.pk
            transaction.on_commit(lambda: bucket.tail_delete(upload_id=stored_id, offset=offset))
        if end == upload.size:
            return services.upload_finish(upload=upload, sha256=running.hexdigest() if running else None)
        if running is not None:
            _running_keep(key, end, running)
        return upload


def _require_chunk_fits(*, actor: User, upload: Upload, offset: int, length: int | None) -> None:
    services.upload_check_writable(actor=actor, upload=upload)
    if offset != upload.offset:
        raise UploadConflict(
            _("Upload-Offset %(sent)s does not match the server's offset %(server)s.")
            % {"sent": offset, "server": upload.offset}
        )
    if length is not None and offset + length > upload.size:
        raise UploadTooLarge(_("This chunk goes past the declared Upload-Length."))


def _write_chunk(
    upload: Upload, *, key: str, offset: int, length: int | None, checksum: Checksum | None, stream: Readable
) -> tuple[int, Any | None]:
    """Stream the chunk to the bucket or the spool; the new end and the running hash after it. On any
    failure the running hash taken at ``offset`` is kept for the client's retry."""
    running = _running_take(key, offset)
    write = _stream_to_bucket if upload.multipart_id else _stream_to_spool
    try:
        return write(
            upload=upload, offset=offset, length=length, checksum=checksum, stream=stream, running=running
        )
    except BaseException:
        if running is not None:
            _running_keep(key, offset, running)
        raise


def _stream_to_bucket(
    *,
    upload: Upload,
    offset: int,
    length: int | None,
    checksum: Checksum | None,
    stream: Readable,
    running: Any | None,
) -> tuple[int, Any | None]:
    """Receive the chunk into a file of this host's spool (behind the bytes of its first part that an
    earlier chunk left in the bucket), check it, then send the parts it completes to the bucket
    (uploads.bucket). The offset moves only once the bucket holds every byte up to it: a bucket that
    fails mid-chunk leaves the offset where it was, and the client sends the chunk again."""
    base = offset - offset % upload.part_size
    path = files.spool_dir() / f"{upload.pk}.{offset}.chunk"
    try:
        with open(path, "wb") as handle:
            if base < offset:
                _tail_fetch(upload, offset=offset, base=base, into=handle)
        sender = bucket_parts.PartSender(
            upload_id=upload.pk,
            name=files.storage_name_for(case_number=upload.case.number, upload_id=upload.pk),
            multipart_id=upload.multipart_id,
            part_size=upload.part_size,
            size=upload.size,
            path=path,
            base=base,
        )
        try:
            end, after = _stream_to_spool(
                upload=upload,
                offset=offset,
                length=length,
                checksum=checksum,
                stream=stream,
                running=running,
                path=path,
                base=base,
                sync=False,  # the bucket is the durable copy; this file is gone when the request ends
                on_written=sender.written,  # parts leave while the rest of the chunk arrives
            )
        except BaseException:
            sender.close()
            raise
        if end > offset:
            sender.finish(end)
        else:
            sender.close()
        return end, after
    finally:
        path.unlink(missing_ok=True)


def _tail_fetch(upload: Upload, *, offset: int, base: int, into: BinaryIO) -> None:
    """The bytes of the first part in front of ``offset`` that an earlier chunk left in the bucket."""
    try:
        got = bucket.tail_fetch(upload_id=upload.pk, offset=offset, into=into)
    except Exception as error:
        if bucket.is_transient(error):
            raise bucket.unavailable(error) from error
        logger.error("upload %s: no tail at %s in the bucket: %s", upload.pk, offset, error)
        raise UploadGone(_("Part of this upload is missing from the file store; start it again.")) from error
    if got != offset - base:
        logger.error("upload %s: tail at %s has %s bytes, %s expected", upload.pk, offset, got, offset - base)
        raise UploadGone(_("Part of this upload is missing from the file store; start it again."))


def _stream_to_spool(
    *,
    upload: Upload,
    offset: int,
    length: int | None,
    checksum: Checksum | None,
    stream: Readable,
    running: Any | None,
    path: Path | None = None,
    base: int = 0,
    sync: bool = True,
    on_written: Callable[[int], None] | None = None,
) -> tuple[int, Any | None]:
    """Copy the body to the spool file at ``offset``; returns the new synced end and the advanced running
    hash. On any failure the file is cut back to ``offset``. (``path`` and ``base``: another file whose
    first byte is the upload's byte ``base``.)

    Three things overlap: this thread reads the socket and keeps the running hash, a pool thread hashes
    the chunk for its checksum, and a writer thread writes blocks and starts their writeback, so a disk
    that is briefly slow holds up neither the socket nor the hashing (at most WRITE_AHEAD blocks wait)."""
    chunk_hash = hashlib.new(checksum.algorithm) if checksum else None
    # Hash into a copy (cheap: a few hundred bytes): a failed chunk must not advance the kept state.
    work = running.copy() if running is not None else None
    fd = os.open(path or files.spool_path(upload.pk), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            position = _copy_blocks(
                upload,
                fd=fd,
                offset=offset,
                length=length,
                stream=stream,
                target=_Target(base=base, sync=sync, on_written=on_written),
                hashes=(chunk_hash, work),
            )
            # A short body cannot be verified: discard it rather than keep unverifiable bytes.
            short = length is not None and position - offset != length
            if (
                chunk_hash is not None
                and checksum is not None
                and (short or chunk_hash.digest() != checksum.digest)
            ):
                raise ChecksumMismatch(
                    _("The chunk's checksum does not match; it was discarded, send it again.")
                )
            try:
                if sync:
                    os.fsync(fd)
            except OSError as error:
                raise _storage_failed(upload, error) from error
        except BaseException:
            os.ftruncate(fd, offset - base)
            raise
    finally:
        os.close(fd)
    return position, work


@dataclass(frozen=True)
class _Target:
    """Where blocks go: a file whose first byte is the upload's byte ``base``, synced or not, with a
    callback for every block written (the bucket's part sender)."""

    base: int
    sync: bool
    on_written: Callable[[int], None] | None


def _copy_blocks(
    upload: Upload,
    *,
    fd: int,
    offset: int,
    length: int | None,
    stream: Readable,
    target: _Target,
    hashes: tuple[Any | None, Any | None],
) -> int:
    """Read the body block by block while a writer thread writes them (at most WRITE_AHEAD waiting) and
    both hashes advance; returns the position reached."""
    limit = upload.size - offset
    position = offset
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="tus-write") as writer:
        writes: deque[Future[None]] = deque()
        try:
            while True:
                want = BLOCK_SIZE if length is None else min(BLOCK_SIZE, offset + length - position)
                if want <= 0:
                    break
                try:
                    block = stream.read(want)
                except OSError:  # the client went away mid-chunk: keep what arrived (see below)
                    break
                if not block:
                    break
                if position + len(block) - offset > limit:
                    raise UploadTooLarge(_("This chunk goes past the declared Upload-Length."))
                writes.append(
                    writer.submit(
                        _spool_write,
                        fd,
                        block,
                        position - target.base,
                        offset - target.base,
                        target.sync,
                        target.on_written,
                        target.base,
                    )
                )
                _hash_block(block, *hashes)
                position += len(block)
                while len(writes) > WRITE_AHEAD:
                    writes.popleft().result()
            while writes:
                writes.popleft().result()
        except OSError as error:  # from a write: the socket's own errors end the loop above
            raise _storage_failed(upload, error) from error
        finally:
            for pending in writes:  # after a failure: nothing more is written past the cut
                pending.cancel()
    return position


def _storage_failed(upload: Upload, error: OSError) -> StorageFailed:
    logger.error("upload %s: the spool file could not be written: %s", upload.pk, error)
    return StorageFailed(
        _("The server could not store this chunk; nothing of it was kept. Send it again later.")
    )


def _hash_block(block: bytes, chunk_hash: Any | None, work: Any | None) -> None:
    """Both SHA-256 passes over a block. hashlib releases the GIL, so with both present one runs on a
    second core while this thread runs the other (about 2x on an idle 2-core machine)."""
    if chunk_hash is not None and work is not None:
        pending = _hasher().submit(chunk_hash.update, block)
        try:
            work.update(block)
        finally:
            pending.result()
        return
    for digest in (chunk_hash, work):
        if digest is not None:
            digest.update(block)


def _spool_write(
    fd: int,
    block: bytes,
    position: int,
    chunk_start: int,
    writeback: bool = True,
    written: Callable[[int], None] | None = None,
    base: int = 0,
) -> None:
    _pwrite_all(fd, block, position)
    end = position + len(block)
    if written is not None:
        written(base + end)  # in order: one writer thread
    if writeback and _START_WRITEBACK and (end - chunk_start) % WRITEBACK_EVERY == 0:
        # Start writing the last blocks to disk now, so the fsync that acknowledges the chunk waits for
        # little (64 MiB: write + fsync 0.9-1.7 GB/s plain, 3 GB/s this way).
        os.posix_fadvise(fd, end - WRITEBACK_EVERY, WRITEBACK_EVERY, os.POSIX_FADV_DONTNEED)
