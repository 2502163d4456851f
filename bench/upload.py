"""Upload benchmark: a 2 GiB file through the tus endpoint under gunicorn (WSGI) over loopback.

Prints MiB/s, the ratio to a plain copy of the same bytes on the same disk measured in the same run, and
the server's peak memory (VmHWM of the gunicorn workers). Self-contained: a temporary PORTAL_VAR_DIR
(SQLite, spool, local storage) is created and removed.

    .venv/bin/python bench/upload.py [--size-mib 2048] [--chunk-mib 64] [--workers 2] [--threads 4]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.uploads.stream_client import _Slice  # noqa: E402  (the test suite's streaming client body)

MiB = 1024 * 1024
BLOCK = MiB


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _prepare(env: dict[str, str]) -> tuple[str, str]:
    """Migrate the temporary database and create a customer, a case and a token; returns (case, token)."""
    script = """
from accounts.models import Organisation, User
from cases import services
from rest_framework.authtoken.models import Token
org = Organisation.objects.create(name="Bench", slug="bench")
staff = User.objects.create_user("bench-engineer", role=User.Role.ENGINEER)
customer = User.objects.create_user("bench-customer", role=User.Role.CUSTOMER, organisation=org)
case = services.case_create(actor=staff, organisation=org, title="bench", customer_contact=customer, owner=staff)
print(case.number, Token.objects.create(user=customer).key)
"""
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return out[-2], out[-1]


def _write_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with open(path, "wb") as handle:
        for _ in range(size // MiB):
            handle.write(block)
        handle.flush()
        os.fsync(handle.fileno())


def _plain_copy(source: Path, target: Path) -> float:
    """The same bytes copied on the same disk with a SHA-256 and an fsync, like the server does."""
    start = time.perf_counter()
    digest = hashlib.sha256()
    with open(source, "rb") as src, open(target, "wb") as dst:
        while block := src.read(BLOCK):
            digest.update(block)
            dst.write(block)
        dst.flush()
        os.fsync(dst.fileno())
    return time.perf_counter() - start


def _plain_copy_no_hash(source: Path, target: Path) -> float:
    start = time.perf_counter()
    with open(source, "rb") as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, 8 * MiB)
        dst.flush()
        os.fsync(dst.fileno())
    return time.perf_counter() - start


def _upload(port: int, case: str, token: str, path: Path, chunk: int) -> tuple[float, str, list[float]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, blocksize=BLOCK, timeout=600)
    size = path.stat().st_size
    common = {"Tus-Resumable": "1.0.0", "Authorization": f"Token {token}"}
    name = base64.b64encode(path.name.encode()).decode()
    start = time.perf_counter()
    conn.request(
        "POST",
        f"/api/cases/{case}/uploads/tus/",
        headers={**common, "Upload-Length": str(size), "Upload-Metadata": f"filename {name}"},
    )
    response = conn.getresponse()
    response.read()
    if response.status != 201:
        raise SystemExit(f"creation failed: {response.status}")
    location = response.getheader("Location").split("://", 1)[1].split("/", 1)[1]
    offset = 0
    durations: list[float] = []
    with open(path, "rb") as handle:
        while offset < size:
            patch_start = time.perf_counter()
            length = min(chunk, size - offset)
            handle.seek(offset)
            digest = hashlib.sha256()
            left = length
            while left:
                block = handle.read(min(BLOCK, left))
                digest.update(block)
                left -= len(block)
            handle.seek(offset)
            conn.request(
                "PATCH",
                "/" + location,
                body=_Slice(handle, length),
                headers={
                    **common,
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(length),
                    "Upload-Offset": str(offset),
                    "Upload-Checksum": "sha256 " + base64.b64encode(digest.digest()).decode(),
                },
            )
            response = conn.getresponse()
            response.read()
            if response.status != 204:
                raise SystemExit(f"PATCH at {offset} failed: {response.status}")
            offset = int(response.getheader("Upload-Offset"))
            durations.append(time.perf_counter() - patch_start)
    elapsed = time.perf_counter() - start
    return elapsed, location.rstrip("/").rsplit("/", 1)[1], durations


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--dir", default=None, help="working folder (default: a temporary one under var/)")
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=args.dir or ROOT / "var"))
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(work / "portal"),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_BUCKET"):
        env.pop(name, None)  # a self-contained run: SQLite, embedded broker, local files
    server = None
    try:
        case, token = _prepare(env)
        source = work / "bench.bin"
        size = args.size_mib * MiB
        _write_file(source, size)
        copy_seconds = _plain_copy(source, work / "copy.bin")
        (work / "copy.bin").unlink()
        raw_seconds = _plain_copy_no_hash(source, work / "copy.bin")
        (work / "copy.bin").unlink()

        port = _free_port()
        gunicorn = Path(sys.executable).with_name("gunicorn")
        server = subprocess.Popen(
            [
                str(gunicorn),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--timeout",
                "300",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
        baseline = {pid: _peak_kib(pid) for pid in _children(server.pid)}
        elapsed, upload_id, durations = _upload(port, case, token, source, args.chunk_mib * MiB)
        peaks = {pid: _peak_kib(pid) for pid in _children(server.pid)}
        stored = list((work / "portal" / "uploads").rglob(upload_id))
        assert stored and stored[0].stat().st_size == size, "the stored file is missing or short"

        mib = size / MiB
        tus_rate = mib / elapsed
        copy_rate = mib / copy_seconds
        print(
            f"file: {mib:.0f} MiB, chunks of {args.chunk_mib} MiB, gunicorn {args.workers}x{args.threads} (gthread)"
        )
        print(
            f"tus upload (sha256 per chunk + whole file, fsync per chunk): {tus_rate:.0f} MiB/s ({elapsed:.2f} s)"
        )
        print(
            f"plain copy on the same disk with sha256 + fsync:          {copy_rate:.0f} MiB/s ({copy_seconds:.2f} s)"
        )
        print(f"plain copy on the same disk, no hash:                      {mib / raw_seconds:.0f} MiB/s")
        print(
            f"ratio tus / plain copy (sha256): {tus_rate / copy_rate:.2f}; tus / plain copy (no hash): "
            f"{tus_rate / (mib / raw_seconds):.2f}"
        )
        middle = sorted(durations[:-1])[len(durations[:-1]) // 2] if len(durations) > 1 else 0.0
        print(
            f"median PATCH {middle * 1000:.0f} ms; last PATCH (includes completion) {durations[-1] * 1000:.0f} ms"
        )
        # The server's own rate: bytes over time spent inside PATCH requests. The end-to-end figure above
        # also counts this client reading and hashing each chunk on the same two cores between requests.
        print(
            f"server-side rate (bytes / time inside PATCH requests): {mib / sum(durations):.0f} MiB/s "
            f"= {mib * 1.048576 / sum(durations):.0f} MB/s"
        )
        print(
            f"server peak RSS per worker (VmHWM): {max(peaks.values()) / 1024:.0f} MiB "
            f"(idle {max(baseline.values()) / 1024:.0f} MiB)"
        )
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
