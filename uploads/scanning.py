"""Virus scanning of stored uploads with ClamAV's daemon (clamd), switched on by a setting.

Reference: clamd(8), the ``INSTREAM`` command: ``zINSTREAM\\0``, then chunks each prefixed with their
length as a 4-byte big-endian integer, then a zero-length chunk; the answer is ``stream: OK``,
``stream: <signature> FOUND`` or ``... ERROR``, terminated by NUL with the ``z`` prefix.

Settings (read with defaults so the feature stays off until configured):
- ``CLAMAV_SOCKET``: clamd's unix socket path, or ``tcp://host:port``; empty turns scanning off.
- ``CLAMAV_MAX_SIZE``: files larger than this are not sent (ClamAV cannot scan more than 2 GB: see
  research/reliability.md 3.2) and are marked ``not_scanned``; default 2 GiB - 1.
- ``CLAMAV_TIMEOUT``: seconds of socket silence before giving up; default 120.

Fail closed: only exactly ``OK`` is clean. A signature marks the file ``infected`` (state ``rejected``,
download refused to everyone, a security event logged); any other answer or an unreachable daemon leaves
the file ``pending`` (held: not downloadable, not analysed) with the reason, and the task retries.
"""

from __future__ import annotations

import logging
import socket
import struct
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from cases.audit import AuditAction, audit_record
from outbox.services import outbox_publish
from uploads import files, handoff
from uploads.models import Upload

logger = logging.getLogger(__name__)
security_log = logging.getLogger("portal.security")

# 256 KiB per INSTREAM chunk: memory stays flat whatever the file size, and the per-chunk overhead
# (4 bytes, one syscall) is negligible next to clamd's own ~40 MB/s scanning speed.
CHUNK = 256 * 1024
_ANSWER_LIMIT = 4096


class ScannerUnavailable(ConnectionError):
    """clamd could not be reached or hung up without an answer: transient, the task retries."""


@dataclass(frozen=True)
class ScanAnswer:
    """clamd's verdict: ``clean`` only for exactly ``OK``; ``signature`` when something was FOUND."""

    clean: bool
    signature: str | None
    raw: str


def scan_enabled() -> bool:
    return bool(settings.CLAMAV_SOCKET)


def scan_max_size() -> int:
    return int(settings.CLAMAV_MAX_SIZE)


def _connect(address: str, timeout: float) -> socket.socket:
    if address.startswith("tcp://"):
        host, _sep, port = address[len("tcp://") :].rpartition(":")
        return socket.create_connection((host, int(port)), timeout=timeout)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


def answer_parse(raw: str) -> ScanAnswer:
    """``stream: OK`` is clean; ``stream: Name FOUND`` is infected; anything else is not clean."""
    text = raw.strip().rstrip("\x00").strip()
    body = text.split(":", 1)[1].strip() if text.startswith("stream:") else text
    if body == "OK":
        return ScanAnswer(clean=True, signature=None, raw=text)
    if body.endswith(" FOUND"):
        return ScanAnswer(clean=False, signature=body[: -len(" FOUND")].strip() or "unknown", raw=text)
    return ScanAnswer(clean=False, signature=None, raw=text or "no answer")


def clamd_scan_stream(handle: IO[bytes], *, address: str, timeout: float = 120.0) -> ScanAnswer:
    """Stream ``handle`` to clamd with INSTREAM, one chunk in memory at a time; raises
    :class:`ScannerUnavailable` when the daemon cannot be reached or gives no answer."""
    try:
        sock = _connect(address, timeout)
    except OSError as error:
        raise ScannerUnavailable(f"clamd unreachable at {address}: {error}") from error
    with sock:
        try:
            sock.sendall(b"zINSTREAM\x00")
            while block := handle.read(CHUNK):
                sock.sendall(struct.pack("!L", len(block)))
                sock.sendall(block)
            sock.sendall(struct.pack("!L", 0))
        except (BrokenPipeError, ConnectionResetError):
            pass  # clamd stops reading at a limit (StreamMaxLength) and says why: read its answer
        except OSError as error:
            raise ScannerUnavailable(f"clamd stopped answering: {error}") from error
        answer = b""
        try:
            while b"\x00" not in answer and len(answer) < _ANSWER_LIMIT:
                data = sock.recv(1024)
                if not data:
                    break
                answer += data
        except OSError as error:
            raise ScannerUnavailable(f"clamd stopped answering: {error}") from error
    if not answer:
        raise ScannerUnavailable("clamd closed the connection without an answer")
    return answer_parse(answer.split(b"\x00", 1)[0].decode("utf-8", "replace"))


# -- the upload side ----------------------------------------------------------------------------------------


def scan_decide(*, size: int) -> tuple[str, str]:
    """The scan state a just-stored file starts in: off, ``pending`` (held until scanned) or
    ``not_scanned`` when it is larger than the scanner can take."""
    if not scan_enabled():
        return Upload.Scan.OFF, ""
    if size > scan_max_size():
        return Upload.Scan.NOT_SCANNED, _("Larger than the %(limit)s the virus scanner can take.") % {
            "limit": f"{scan_max_size() / 1024**3:.0f} GB"
        }
    return Upload.Scan.PENDING, ""


def scan_queue(upload: Upload) -> None:
    """Queue the scan through the outbox, in the caller's transaction (the task re-reads the row)."""
    outbox_publish(task="uploads.tasks.upload_scan", args=[str(upload.pk)])


def upload_scan_run(*, upload_id: str) -> Upload:
    """Scan a held upload and record the verdict; on ``clean`` the file goes on to analysis (or archive
    expansion). Idempotent: an upload not ``pending`` any more is returned unchanged. Raises
    :class:`ScannerUnavailable` (after recording the reason) so the task retries."""
    upload = Upload.objects.select_related("case", "uploaded_by").get(pk=upload_id)
    if upload.scan != Upload.Scan.PENDING:
        return upload
    address = str(settings.CLAMAV_SOCKET)
    timeout = float(settings.CLAMAV_TIMEOUT)
    try:
        with files.open_stored(upload.storage_name) as handle:
            answer = clamd_scan_stream(handle, address=address, timeout=timeout)
    except ScannerUnavailable as error:
        _hold(upload, _("The virus scanner is unavailable; the file is held until it is scanned."))
        logger.warning("scan of upload %s postponed: %s", upload.pk, error)
        raise
    if answer.clean:
        return _record_clean(upload, answer)
    if answer.signature is not None:
        return _record_infected(upload, answer)
    return _hold(
        upload,
        _("The virus scanner could not scan this file (%(answer)s); it is held for staff to review.")
        % {"answer": answer.raw[:200]},
        failed=True,
    )


def _record_clean(upload: Upload, answer: ScanAnswer) -> Upload:
    with transaction.atomic():
        updated = Upload.objects.filter(pk=upload.pk, scan=Upload.Scan.PENDING).update(
            scan=Upload.Scan.CLEAN, scan_detail=answer.raw[:300]
        )
        if not updated:
            return upload
        upload.scan, upload.scan_detail = Upload.Scan.CLEAN, answer.raw[:300]
        handoff.upload_record(
            case=upload.case,
            actor=None,
            action=AuditAction.UPLOAD_SCANNED,
            data={"upload": str(upload.pk), "filename": upload.filename, "result": "clean"},
        )
        if upload.kind == Upload.Kind.ARCHIVE:
            handoff.upload_expansion_queue(upload)
        else:
            handoff.upload_analysis_queue(upload)
    return upload


def _record_infected(upload: Upload, answer: ScanAnswer) -> Upload:
    reason = _("Quarantined: the virus scanner found %(signature)s. The file cannot be downloaded.") % {
        "signature": answer.signature
    }
    with transaction.atomic():
        updated = Upload.objects.filter(pk=upload.pk, scan=Upload.Scan.PENDING).update(
            scan=Upload.Scan.INFECTED,
            scan_detail=answer.raw[:300],
            state=Upload.State.REJECTED,
            rejection_reason=reason,
        )
        if not updated:
            return upload
        audit_record(
            case=upload.case,
            actor=None,
            action=AuditAction.UPLOAD_INFECTED,
            customer_visible=True,
            data={
                "upload": str(upload.pk),
                "filename": upload.filename,
                "sha256": upload.sha256,
                "signature": answer.signature,
            },
        )
    security_log.warning(
        "virus found in upload %s (case %s, sha256 %s): %s",
        upload.pk,
        upload.case.number,
        upload.sha256,
        answer.signature,
    )
    upload.refresh_from_db()
    return upload


def _hold(upload: Upload, reason: str, *, failed: bool = False) -> Upload:
    with transaction.atomic():
        Upload.objects.filter(pk=upload.pk, scan=Upload.Scan.PENDING).update(scan_detail=reason[:300])
        if failed:
            handoff.upload_record(
                case=upload.case,
                actor=None,
                action=AuditAction.UPLOAD_SCAN_FAILED,
                data={"upload": str(upload.pk), "filename": upload.filename, "reason": reason},
            )
    upload.scan_detail = reason[:300]
    return upload
