"""Sending a tus chunk's parts to the bucket while the chunk still arrives (uploads.bucket has the rest
of the object storage side): each part leaves as soon as its bytes are on the local disk."""

from __future__ import annotations

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from django.conf import settings

from uploads import bucket


class _Region(io.RawIOBase):
    """Bytes ``[start, start + length)`` of a local file as a seekable file, for one part's body."""

    def __init__(self, path: Path, start: int, length: int) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self._start = start
        self._length = length
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._length}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = min(len(view), self._length - self._position)
        if want <= 0:
            return 0
        got = os.preadv(self._fd, [view[:want]], self._start + self._position)
        self._position += got
        return got

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


class PartSender:
    """Sends an upload's parts from a local chunk file as soon as each is written, so receiving the chunk
    and sending it to the bucket overlap; ``finish`` sends the remainder once the chunk is checked: the
    file's last part, or the tail object of an unfinished part. The file's first byte is the upload's byte
    ``base`` (a part boundary). Network failures raise StorageUnavailable; parts sent for a chunk that is
    then refused are harmless (the offset does not move, and the same part numbers are sent again)."""

    def __init__(
        self,
        *,
        upload_id: object,
        name: str,
        multipart_id: str,
        part_size: int,
        size: int,
        path: Path,
        base: int,
    ) -> None:
        self.upload_id = upload_id
        self.key = bucket.key_for(name)
        self.multipart_id = multipart_id
        self.part_size = part_size
        self.size = size
        self.path = path
        self.base = base
        self._next = base  # the first byte not yet handed to a part
        self._s3 = bucket.client()
        self._bucket = bucket.bucket_name()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, int(settings.UPLOAD_PART_CONCURRENCY)), thread_name_prefix="s3-part"
        )
        self._sent: list[Any] = []

    def written(self, end: int) -> None:
        """The file holds the upload's bytes up to ``end`` (called in order by the writing thread)."""
        while end - self._next >= self.part_size:
            self._sent.append(self._pool.submit(self._part, self._next, self.part_size))
            self._next += self.part_size

    def _part(self, start: int, length: int) -> None:
        with _Region(self.path, start - self.base, length) as body:
            self._s3.upload_part(
                Bucket=self._bucket,
                Key=self.key,
                UploadId=self.multipart_id,
                PartNumber=start // self.part_size + 1,
                Body=body,
                ContentLength=length,
            )

    def finish(self, end: int) -> None:
        """The chunk is checked and ends at ``end``: send what is left and wait for every part."""
        try:
            if self._next < end:
                length = end - self._next
                if self._next + length == self.size:
                    self._sent.append(self._pool.submit(self._part, self._next, length))
                else:
                    with _Region(self.path, self._next - self.base, length) as body:
                        self._s3.put_object(
                            Bucket=self._bucket,
                            Key=bucket.tail_key(self.upload_id, end),
                            Body=body,
                            ContentLength=length,
                        )
            for sent in self._sent:
                sent.result()
        except Exception as error:
            if bucket.is_transient(error):
                raise bucket.unavailable(error) from error
            raise
        finally:
            self.close()

    def close(self) -> None:
        """Stop: parts not started are dropped, those being sent are waited for (they read the file)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
