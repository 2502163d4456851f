"""The official Python tus client (tuspy) and raw sockets against a live server."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from rest_framework.authtoken.models import Token
from tusclient import client as tus_client

from uploads.models import Upload

pytestmark = pytest.mark.django_db(transaction=True)

MiB = 1024 * 1024


@pytest.fixture
def token(customer) -> str:
    return Token.objects.create(user=customer).key


@pytest.fixture
def tus(live_server, case, token) -> tus_client.TusClient:
    return tus_client.TusClient(
        f"{live_server.url}/api/cases/{case.number}/uploads/tus/", headers={"Authorization": f"Token {token}"}
    )


@pytest.fixture
def dump(tmp_path) -> Path:
    path = tmp_path / "MEMORY.DMP"
    path.write_bytes(b"PAGEDU64" + os.urandom(3 * MiB + 12345))
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_tuspy_chunked_upload_records_the_files_sha256(tus, dump):
    uploader = tus.uploader(str(dump), chunk_size=MiB, upload_checksum=True, metadata={"filename": dump.name})
    uploader.upload()
    upload = Upload.objects.get()
    assert upload.state == Upload.State.STORED
    assert upload.filename == "MEMORY.DMP"
    assert upload.size == dump.stat().st_size
    assert upload.sha256 == _sha256(dump)
    assert upload.kind == Upload.Kind.KERNEL_DUMP


def test_stopped_upload_is_finished_by_a_new_client_from_the_servers_offset(tus, dump):
    first = tus.uploader(str(dump), chunk_size=MiB, upload_checksum=True, metadata={"filename": dump.name})
    first.upload(stop_at=2 * MiB)
    assert Upload.objects.get().offset == 2 * MiB
    second = tus.uploader(str(dump), url=first.url, chunk_size=MiB, upload_checksum=True)
    assert second.offset == 2 * MiB  # asked the server with HEAD
    second.upload()
    upload = Upload.objects.get()
    assert (upload.state, upload.sha256) == (Upload.State.STORED, _sha256(dump))


def _raw_patch_start(
    url: str, token: str, offset: int, length: int, first_part: bytes, checksum: str = ""
) -> socket.socket:
    """Open a PATCH, send its headers and part of its body, and leave it hanging."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    head = (
        f"PATCH {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nTus-Resumable: 1.0.0\r\n"
        f"Authorization: Token {token}\r\nContent-Type: application/offset+octet-stream\r\n"
        f"Upload-Offset: {offset}\r\nContent-Length: {length}\r\n{checksum}Connection: close\r\n\r\n"
    )
    sock.sendall(head.encode() + first_part)
    return sock


def _wait_for_offset(url: str, token: str, expected: int) -> int:
    headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Token {token}"}
    offset = -1
    for _attempt in range(100):
        offset = int(requests.head(url, headers=headers, timeout=5).headers["Upload-Offset"])
        if offset == expected:
            break
        time.sleep(0.05)
    return offset


def test_connection_cut_mid_chunk_keeps_the_bytes_received_and_resumes(tus, token, dump):
    data = dump.read_bytes()
    first = tus.uploader(str(dump), chunk_size=MiB, metadata={"filename": dump.name})
    first.upload(stop_at=MiB)
    sock = _raw_patch_start(first.url, token, MiB, 2 * MiB, data[MiB : MiB + 300_000])
    time.sleep(0.2)
    sock.close()  # the laptop lid closes
    # Without a checksum the server keeps what arrived (tus: store as much as possible).
    assert _wait_for_offset(first.url, token, MiB + 300_000) == MiB + 300_000
    resumed = tus.uploader(str(dump), url=first.url, chunk_size=MiB, upload_checksum=True)
    assert resumed.offset == MiB + 300_000
    resumed.upload()
    assert Upload.objects.get().sha256 == _sha256(dump)


def test_cut_chunk_with_a_checksum_is_discarded(tus, token, dump):
    data = dump.read_bytes()
    first = tus.uploader(str(dump), chunk_size=MiB, metadata={"filename": dump.name})
    first.upload(stop_at=MiB)
    chunk = data[MiB : 2 * MiB]

    checksum = f"Upload-Checksum: sha256 {base64.b64encode(hashlib.sha256(chunk).digest()).decode()}\r\n"
    sock = _raw_patch_start(first.url, token, MiB, len(chunk), chunk[:300_000], checksum)
    time.sleep(0.2)
    sock.close()
    time.sleep(0.3)
    assert _wait_for_offset(first.url, token, MiB) == MiB


def test_concurrent_patch_on_one_upload_gets_409(tus, token, dump):
    data = dump.read_bytes()
    first = tus.uploader(str(dump), chunk_size=MiB, metadata={"filename": dump.name})
    first.upload(stop_at=MiB)
    sock = _raw_patch_start(first.url, token, MiB, MiB, data[MiB : MiB + 1000])
    try:
        time.sleep(0.3)  # the first PATCH now holds the upload
        second = requests.patch(
            first.url,
            data=data[MiB : 2 * MiB],
            headers={
                "Tus-Resumable": "1.0.0",
                "Authorization": f"Token {token}",
                "Content-Type": "application/offset+octet-stream",
                "Upload-Offset": str(MiB),
            },
            timeout=10,
        )
        assert second.status_code == 409
        assert second.headers["Tus-Resumable"] == "1.0.0"
        sock.sendall(data[MiB + 1000 : 2 * MiB])
        reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 204"), reply
    finally:
        sock.close()
    assert Upload.objects.get().offset == 2 * MiB


CLIENT = Path(__file__).with_name("stream_client.py")


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _peak_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@pytest.mark.slow
def test_one_gib_upload_keeps_server_memory_flat(live_server, case, token, tmp_path):
    """The server (this process, live_server thread) receives 1 GiB from a client in another process;
    its resident memory may not grow by 100 MB."""
    path = tmp_path / "big.bin"
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for _ in range(1024):
            handle.write(block)
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
    before = _rss_kib()
    result = subprocess.run(
        [
            sys.executable,
            str(CLIENT),
            f"{live_server.url}/api/cases/{case.number}/uploads/tus/",
            token,
            str(path),
            str(64 * MiB),
        ],
        check=True,
        timeout=600,
        capture_output=True,
        text=True,
    )
    growth_mb = (_peak_rss_kib() - before) / 1024
    print(f"server RSS growth during a 1 GiB upload: {growth_mb:.1f} MB")
    upload = Upload.objects.get()
    assert upload.state == Upload.State.STORED
    assert upload.size == 1024 * MiB
    assert upload.sha256 == result.stdout.strip()
    assert growth_mb < 100, f"server memory grew by {growth_mb:.0f} MB"
    path.unlink()
