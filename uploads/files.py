"""File-level helpers of uploads: spool paths, names, hashing, type detection and the uploads storage."""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from django.conf import settings
from django.core.files import File
from django.core.files.move import file_move_safe
from django.core.files.storage import FileSystemStorage, Storage, storages
from storages.backends.s3 import S3Storage

from analysis.parsers.detect import Detection, detect, detection_of
from uploads import bucket

READ_BLOCK = 4 * 1024 * 1024
SNIFF_BYTES = 64 * 1024  # what type detection reads of a file
MAX_NAME_LENGTH = 200
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')


def spool_dir() -> Path:
    """The folder of partial uploads (settings.UPLOAD_SPOOL_DIR), created on first use."""
    path = Path(settings.UPLOAD_SPOOL_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def spool_path(upload_id: object) -> Path:
    return spool_dir() / f"{upload_id}.part"


def lock_path(upload_id: object) -> Path:
    return spool_dir() / f"{upload_id}.lock"


def upload_storage() -> Storage:
    return storages["uploads"]


def storage_is_local() -> bool:
    """Whether finishing an upload is a rename (local files) rather than a copy of every byte (S3)."""
    return isinstance(upload_storage(), FileSystemStorage)


def storage_is_bucket() -> bool:
    """Whether uploads live in S3-compatible object storage (django-storages' S3 backend): then tus
    chunks go to the bucket as multipart parts (uploads.bucket)."""
    return isinstance(upload_storage(), S3Storage)


def storage_name_for(*, case_number: str, upload_id: object) -> str:
    # Stored under the upload's UUID, never the customer's file name: no traversal, no collisions.
    return f"cases/{case_number}/{upload_id}"


def filename_sanitise(name: str) -> str:
    """A display name safe for pages and headers: the last path component, no control or reserved
    characters, NFC, at most 200 characters with the extension kept."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch) not in {"Cc", "Cf", "Zl", "Zp"})
    name = _UNSAFE_NAME.sub("_", name).strip(" .")
    if len(name) > MAX_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_NAME_LENGTH - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME_LENGTH]
    return name or "upload.bin"


def content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback and the exact UTF-8 name (RFC 6266 / RFC 5987)."""
    fallback = name.encode("ascii", "replace").decode("ascii").replace("?", "_")
    fallback = fallback.replace("\\", "_").replace('"', "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def detect_file(path: str | os.PathLike[str]) -> Detection:
    """What a spooled or expanded file is, by content; an unreadable one is ``other`` (never raises)."""
    try:
        return detect(path)
    except OSError:
        return Detection("unknown", "other")


def detect_head(head: bytes) -> Detection:
    """What a file is from its first SNIFF_BYTES (a file in a bucket, read with one ranged GET)."""
    return detection_of(head)


def open_stored(name: str) -> BinaryIO:
    """A stored file opened for one sequential read: the file itself, or a streamed GET of the object
    (django-storages' own file would first copy the whole object)."""
    storage = upload_storage()
    if isinstance(storage, FileSystemStorage):
        return open(storage.path(name), "rb")  # noqa: SIM115 - the caller closes it
    if storage_is_bucket():
        return bucket.open_stream(name)
    return storage.open(name, "rb")  # type: ignore[return-value]


def store_file(*, source: Path, name: str) -> str:
    """Move a finished spool file into the uploads storage; returns the stored name.

    The local file system gets a rename (no second write of a many-GB dump); other storages (S3) get a
    streamed upload, then the spool file is removed."""
    storage = upload_storage()
    if storage_is_local():
        target = Path(storage.path(name))
        target.parent.mkdir(parents=True, exist_ok=True)
        file_move_safe(str(source), str(target), allow_overwrite=False)
        return name
    with open(source, "rb") as handle:
        stored = storage.save(name, File(handle, name=os.path.basename(name)))
    source.unlink(missing_ok=True)
    return stored


def local_path(storage_name: str) -> str | None:
    """The file-system path of a stored file, or None when the storage is remote."""
    storage = upload_storage()
    if isinstance(storage, FileSystemStorage):
        return storage.path(storage_name)
    return None
