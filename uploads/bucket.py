"""Uploads in S3-compatible object storage: multipart parts per tus chunk, ranged reads, streamed reads.

With ``STORAGE_BUCKET`` set, a tus upload is an S3 multipart upload from its creation: each PATCH sends
the parts its chunk completes, so any web host can take any chunk (nothing of an upload lives on one
host's disk between requests) and completing is ``CompleteMultipartUpload``, with no second copy of the
bytes. Parts are numbered by position (part n holds bytes ``[(n-1)P, nP)`` for the upload's part size
P), so a chunk sent again simply overwrites the same parts. A chunk that ends inside a part leaves those
bytes as a small object ``partial/<upload>/tail-<offset>`` that the next chunk, on whichever host,
puts in front of its own (the design of tusd's S3 store). Keyed by offset, a tail is never overwritten
by a chunk that was not acknowledged.

Reads go through ranged GETs (:class:`RangedReader`) so the analysis reads a 16 GiB dump's header
without fetching the file, or one streamed GET (:func:`open_stream`) for downloads, scans and hashes.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.storage import storages
from django.utils.translation import gettext as _
from storages.utils import clean_name

from config import metrics
from uploads.errors import StorageUnavailable

logger = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PARTS = 10_000  # S3's maximum number of parts
STREAM_BLOCK = 1024 * 1024
PARTIAL_PREFIX = "partial"


def _storage() -> Any:
    return storages["uploads"]


def client() -> Any:
    """The boto3 client of the uploads storage (its endpoint, keys, time-outs and retries)."""
    return _storage().connection.meta.client


def bucket_name() -> str:
    return str(_storage().bucket_name)


def key_for(name: str) -> str:
    """The object key of a storage name (the storage's ``location`` prefix applied)."""
    return str(_storage()._normalize_name(clean_name(name)))


def is_transient(error: BaseException) -> bool:
    """Worth trying again: a network failure or a 5xx/throttling answer (never a 403 or a 404)."""
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        code = error.response.get("Error", {}).get("Code", "")
        return status >= 500 or code in {"SlowDown", "RequestTimeout", "ServiceUnavailable"}
    return isinstance(error, BotoCoreError | OSError)


def unavailable(error: BaseException) -> StorageUnavailable:
    logger.warning("object storage unavailable: %s: %s", type(error).__name__, error)
    return StorageUnavailable(
        _("The file store is unavailable; nothing of this request was kept. Try again in a minute.")
    )


@dataclass(frozen=True)
class TransferCount:
    """Bytes and requests a reader fetched (the benchmark prints them)."""

    bytes: int
    requests: int


# -- reading ---------------------------------------------------------------------------------------------


class RangedReader(io.RawIOBase):
    """A seekable read-only view of an object: every read is one ``GET`` with a ``Range`` header.

    Wrap it in ``io.BufferedReader`` so small reads share a request; the parsers then read a dump's
    header and the pages they need, never the whole object."""

    def __init__(
        self,
        *,
        key: str,
        size: int | None = None,
        s3: Any = None,
        bucket: str | None = None,
        head: int = 64 * 1024,
    ) -> None:
        super().__init__()
        self._s3 = s3 or client()
        self._bucket = bucket or bucket_name()
        self._key = key
        self._size = (
            size
            if size is not None
            else int(self._s3.head_object(Bucket=self._bucket, Key=key)["ContentLength"])
        )
        self._position = 0
        self.fetched = 0
        self.requests = 0
        # The first bytes are read by type detection and again by the parser: fetched once, kept.
        self._head_size = min(head, self._size)
        self._head: bytes | None = None

    @property
    def size(self) -> int:
        return self._size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._size - self._position)
        if want <= 0:
            return 0
        if self._position < self._head_size:
            if self._head is None:
                self._head = self._fetch(0, self._head_size)
            got = min(want, len(self._head) - self._position)
            view[:got] = self._head[self._position : self._position + got]
            self._position += got
            return got
        data = self._fetch(self._position, want)
        view[: len(data)] = data
        self._position += len(data)
        return len(data)

    def _fetch(self, start: int, want: int) -> bytes:
        end = start + want - 1
        answer = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={start}-{end}")
        body = answer["Body"]
        try:
            data = body.read()
        finally:
            body.close()
        self.requests += 1
        self.fetched += len(data)
        metrics.BUCKET_READ.labels(how="ranged").inc(len(data))
        return bytes(data)

    def count(self) -> TransferCount:
        return TransferCount(bytes=self.fetched, requests=self.requests)


def open_ranged(name: str, *, size: int | None = None, buffer_size: int = 64 * 1024) -> io.BufferedReader:
    """A buffered, seekable reader of a stored object that fetches only the ranges read."""
    return io.BufferedReader(RangedReader(key=key_for(name), size=size), buffer_size=buffer_size)


class _Body(io.RawIOBase):
    """A streamed GET as a plain read-only file (FileResponse, clamd's INSTREAM, copies)."""

    def __init__(self, body: Any) -> None:
        super().__init__()
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        block = self._body.read(len(view))
        view[: len(block)] = block
        metrics.BUCKET_READ.labels(how="streamed").inc(len(block))
        return len(block)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


def open_stream(name: str) -> BinaryIO:
    """The object's bytes in order, one streamed GET, a megabyte buffered at a time."""
    answer = client().get_object(Bucket=bucket_name(), Key=key_for(name))
    return io.BufferedReader(_Body(answer["Body"]), buffer_size=STREAM_BLOCK)


def object_sha256(name: str) -> str:
    """SHA-256 of a stored object, streamed (S3 offers SHA-256 of multipart objects only as composite)."""
    digest = hashlib.sha256()
    with open_stream(name) as stream:
        while block := stream.read(4 * STREAM_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def object_size(name: str) -> int | None:
    """The size of a stored object, or None when there is none."""
    try:
        return int(client().head_object(Bucket=bucket_name(), Key=key_for(name))["ContentLength"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise


def presigned_download_url(*, name: str, filename_header: str, expires: int) -> str:
    """A short-lived GET address that makes the object an inert attachment (type and disposition)."""
    return str(
        client().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": bucket_name(),
                "Key": key_for(name),
                "ResponseContentType": "application/octet-stream",
                "ResponseContentDisposition": filename_header,
                "ResponseCacheControl": "private, no-store",
            },
            ExpiresIn=expires,
        )
    )


# -- multipart uploads -------------------------------------------------------------------------------------


def part_size_for(size: int) -> int:
    """The part size of an upload: UPLOAD_PART_SIZE, raised (in whole MiB) so no file needs more than
    S3's 10,000 parts."""
    configured = max(int(settings.UPLOAD_PART_SIZE), MIN_PART_SIZE)
    needed = math.ceil(size / MAX_PARTS)
    mib = 1024 * 1024
    return max(configured, math.ceil(needed / mib) * mib)


def multipart_start(*, name: str) -> str:
    """Begin the multipart upload of a new upload; returns its S3 upload id."""
    try:
        answer = client().create_multipart_upload(
            Bucket=bucket_name(), Key=key_for(name), ContentType="application/octet-stream"
        )
    except Exception as error:
        if is_transient(error):
            raise unavailable(error) from error
        raise
    return str(answer["UploadId"])


def tail_key(upload_id: object, offset: int) -> str:
    return key_for(f"{PARTIAL_PREFIX}/{upload_id}/tail-{offset}")


def tail_fetch(*, upload_id: object, offset: int, into: BinaryIO) -> int:
    """Write the bytes a previous chunk left in front of ``offset`` (inside an unfinished part)."""
    answer = client().get_object(Bucket=bucket_name(), Key=tail_key(upload_id, offset))
    body = answer["Body"]
    written = 0
    try:
        while block := body.read(STREAM_BLOCK):
            into.write(block)
            written += len(block)
    finally:
        body.close()
    return written


def tail_delete(*, upload_id: object, offset: int) -> None:
    """Remove a tail that a newer chunk has taken in (after the commit; a leftover is harmless)."""
    try:
        client().delete_object(Bucket=bucket_name(), Key=tail_key(upload_id, offset))
    except Exception as error:  # the sweep at completion or abort removes it
        logger.info("tail %s of upload %s not deleted: %s", offset, upload_id, error)


def _partials_delete(upload_id: object) -> None:
    s3 = client()
    bucket = bucket_name()
    prefix = key_for(f"{PARTIAL_PREFIX}/{upload_id}/")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", ())]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})


def multipart_complete(*, upload_id: object, name: str, multipart_id: str, part_size: int, size: int) -> None:
    """Join the parts into the stored object, after checking there is every part and each has its size.

    Idempotent: when the multipart upload is gone but the object has the right size, a previous
    completion got this far and its caller failed later."""
    s3 = client()
    bucket = bucket_name()
    key = key_for(name)
    expected = max(1, math.ceil(size / part_size))
    parts: list[dict[str, Any]] = []
    try:
        for page in s3.get_paginator("list_parts").paginate(Bucket=bucket, Key=key, UploadId=multipart_id):
            parts.extend(page.get("Parts", ()))
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchUpload":
            if object_size(name) == size:
                _partials_delete(upload_id)
                return
            raise MissingParts(
                "the multipart upload is gone from the bucket and no object replaced it"
            ) from error
        if is_transient(error):
            raise unavailable(error) from error
        raise
    except Exception as error:
        if is_transient(error):
            raise unavailable(error) from error
        raise
    parts.sort(key=lambda part: part["PartNumber"])
    numbers = [part["PartNumber"] for part in parts]
    if numbers != list(range(1, expected + 1)):
        raise MissingParts(f"parts {numbers[:5]}... of {expected} in the bucket")
    for part in parts:
        number = part["PartNumber"]
        want = part_size if number < expected else size - part_size * (expected - 1)
        if part["Size"] != want:
            raise MissingParts(f"part {number} has {part['Size']} bytes, {want} expected")
    listed = [
        {
            "PartNumber": part["PartNumber"],
            "ETag": part["ETag"],
            **{
                key: part[key]
                for key in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256")
                if part.get(key)
            },
        }
        for part in parts
    ]
    try:
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=multipart_id, MultipartUpload={"Parts": listed}
        )
    except Exception as error:
        if is_transient(error):
            raise unavailable(error) from error
        raise
    _partials_delete(upload_id)


def multipart_abort(*, upload_id: object, name: str, multipart_id: str) -> None:
    """Drop an unfinished upload's parts and tails (termination, expiry). A failure is logged: the
    bucket's AbortIncompleteMultipartUpload rule (README) removes what is left."""
    try:
        client().abort_multipart_upload(Bucket=bucket_name(), Key=key_for(name), UploadId=multipart_id)
        _partials_delete(upload_id)
    except Exception as error:
        logger.warning("multipart upload of %s not aborted: %s", upload_id, error)


class MissingParts(Exception):
    """The bucket does not hold every byte the database says arrived (the upload cannot complete)."""


def iter_chunks(stream: BinaryIO, block: int = STREAM_BLOCK) -> Iterator[bytes]:
    while data := stream.read(block):
        yield data
