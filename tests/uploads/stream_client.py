"""A minimal streaming tus client (standard library only), run in its own process by the memory test.

usage: stream_client.py CREATION_URL TOKEN FILE CHUNK_SIZE  -> prints the file's SHA-256
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import sys
from urllib.parse import urlsplit

BLOCK = 1024 * 1024


class _Slice:
    """``length`` bytes of ``handle`` from its current position, read in blocks by http.client."""

    def __init__(self, handle, length: int) -> None:
        self.handle = handle
        self.left = length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data


def upload(creation_url: str, token: str, path: str, chunk_size: int) -> str:
    parts = urlsplit(creation_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, blocksize=BLOCK, timeout=300)
    size = os.path.getsize(path)
    name = base64.b64encode(os.path.basename(path).encode()).decode()
    common = {"Tus-Resumable": "1.0.0", "Authorization": f"Token {token}"}
    conn.request(
        "POST",
        parts.path,
        headers={**common, "Upload-Length": str(size), "Upload-Metadata": f"filename {name}"},
    )
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        raise SystemExit(f"creation: {response.status}")
    location = urlsplit(response.getheader("Location")).path
    whole = hashlib.sha256()
    offset = 0
    with open(path, "rb") as handle:
        while offset < size:
            length = min(chunk_size, size - offset)
            digest = hashlib.sha256()
            handle.seek(offset)
            left = length
            while left:
                block = handle.read(min(BLOCK, left))
                digest.update(block)
                whole.update(block)
                left -= len(block)
            handle.seek(offset)
            checksum = base64.b64encode(digest.digest()).decode()
            headers = {
                **common,
                "Content-Type": "application/offset+octet-stream",
                "Content-Length": str(length),
                "Upload-Offset": str(offset),
                "Upload-Checksum": f"sha256 {checksum}",
            }
            conn.request("PATCH", location, body=_Slice(handle, length), headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 204:
                raise SystemExit(f"PATCH at {offset}: {response.status}")
            offset = int(response.getheader("Upload-Offset"))
    return whole.hexdigest()


if __name__ == "__main__":
    print(upload(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
