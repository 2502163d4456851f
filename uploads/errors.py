"""Domain errors of uploads, each with the HTTP status the tus protocol and the API give it."""

from __future__ import annotations

from cases.errors import DomainError, NotAllowed


class UploadRefused(NotAllowed):
    """The case or the actor does not allow this upload (closed case, someone else's upload)."""

    status_code = 403


class UploadTooLarge(DomainError):
    """Over the per-file maximum, the case quota or the organisation quota."""

    status_code = 413


class UploadConflict(DomainError):
    """Wrong offset, another request writing the same upload, or an upload already complete."""

    status_code = 409


class UploadGone(DomainError):
    """The upload expired or its file was removed by retention."""

    status_code = 410


class ChecksumMismatch(DomainError):
    """The chunk's Upload-Checksum does not match its bytes (tus checksum extension)."""

    status_code = 460


class StorageFailed(DomainError):
    """The server could not write or sync a chunk (disk full or failing); nothing of it was kept."""

    status_code = 507


class StorageUnavailable(DomainError):
    """Object storage did not answer (network, outage); nothing of the request was kept: try again."""

    status_code = 503


class UnsupportedMediaType(DomainError):
    status_code = 415


class ArchiveRejected(Exception):
    """An archive that must not be expanded; ``reason`` is shown to the customer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TusVersionUnsupported(DomainError):
    """The client speaks another tus version (``Tus-Resumable`` missing or not 1.0.0)."""

    status_code = 412
