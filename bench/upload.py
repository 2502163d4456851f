"""Upload benchmark: a 2 GiB file through the tus endpoint under gunicorn (WSGI) over loopback.

Prints MiB/s, the ratio to a plain copy of the same bytes on the same disk measured in the same run, and
the server's peak memory (VmHWM of the gunicorn workers). It runs twice: with the portal's files on disk
(the deployment's case, where this VM's disk sets the ceiling) and on tmpfs (what the software sustains
when storage is not the limit). Self-contained: temporary PORTAL_VAR_DIRs (SQLite, spool, local storage)
are created and removed.

    .venv/bin/python bench/upload.py [--size-mib 2048] [--chunk-mib 64] [--workers 2] [--threads 4] [--repeat 3]
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

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


def _chunk_checksum(path: Path, offset: int, length: int) -> str:
    """``Upload-Checksum`` of one chunk, read with its own descriptor (it runs beside the upload)."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY)
    try:
        while length:
            block = os.pread(fd, min(BLOCK, length), offset)
            digest.update(block)
            offset += len(block)
            length -= len(block)
    finally:
        os.close(fd)
    return "sha256 " + base64.b64encode(digest.digest()).decode()


def _upload(port: int, case: str, token: str, path: Path, chunk: int) -> tuple[float, str, list[float]]:
    """Upload ``path`` the way a good tus client does: each chunk carries its SHA-256, and the next chunk's
    checksum is computed while this one is on the wire, so the client's hashing overlaps the server's."""
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
    with open(path, "rb") as handle, ThreadPoolExecutor(max_workers=1) as hasher:
        checksum = hasher.submit(_chunk_checksum, path, 0, min(chunk, size))
        while offset < size:
            length = min(chunk, size - offset)
            header = checksum.result()
            following = offset + length
            if following < size:
                checksum = hasher.submit(_chunk_checksum, path, following, min(chunk, size - following))
            patch_start = time.perf_counter()
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
                    "Upload-Checksum": header,
                },
            )
            response = conn.getresponse()
            response.read()
            if response.status != 204 or int(response.getheader("Upload-Offset")) != following:
                raise SystemExit(f"PATCH at {offset} failed: {response.status}")
            offset = following
            durations.append(time.perf_counter() - patch_start)
    elapsed = time.perf_counter() - start
    conn.close()
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


@dataclass
class Figures:
    uploads: list[float] = field(default_factory=list)  # MiB/s end to end, one per round
    hashed_copies: list[float] = field(default_factory=list)
    plain_copies: list[float] = field(default_factory=list)
    server_rates: list[float] = field(default_factory=list)
    patches: list[float] = field(default_factory=list)  # seconds, every PATCH but the last
    lasts: list[float] = field(default_factory=list)
    idle_kib: int = 0
    peak_kib: int = 0


def _serve(env: dict[str, str], port: int, args: argparse.Namespace) -> subprocess.Popen[bytes]:
    """gunicorn on ``port``, once a request gets an answer (the master binds before its workers boot)."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers),
         "--threads", str(args.threads), "--timeout", "300", "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            connection.close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise SystemExit(f"gunicorn did not answer on 127.0.0.1:{port}") from None
            time.sleep(0.1)


def _rounds(
    var_dir: Path, source: Path, args: argparse.Namespace, port: int, case, token: str, figures: Figures
) -> None:  # type: ignore[no-untyped-def]
    spool = var_dir / "spool"  # copies are written beside the uploads: the same file system
    spool.mkdir(parents=True, exist_ok=True)
    size = source.stat().st_size
    mib = size / MiB
    for number in range(args.repeat):
        figures.hashed_copies.append(mib / _plain_copy(source, spool / f"copy-{number}-sha256.bin"))
        figures.plain_copies.append(mib / _plain_copy_no_hash(source, spool / f"copy-{number}.bin"))
        elapsed, upload_id, durations = _upload(port, case, token, source, args.chunk_mib * MiB)
        stored = list((var_dir / "uploads").rglob(upload_id))
        assert stored and stored[0].stat().st_size == size, "the stored file is missing or short"
        figures.uploads.append(mib / elapsed)
        figures.server_rates.append(mib / sum(durations))
        figures.patches.extend(durations[:-1])
        figures.lasts.append(durations[-1])


def _measure(var_dir: Path, source: Path, args: argparse.Namespace) -> Figures:
    """Serve a portal whose files live under ``var_dir`` and time copies and uploads written there.

    Nothing written in a round is deleted before the end: this VM's disk is mounted with ``discard``, and a
    block freed and trimmed is as slow to write as a new one, while a block freed but not yet trimmed is
    several times faster, so reusing them would make rounds incomparable. Every write here is of new data."""
    env = {
        **os.environ,
        "PORTAL_VAR_DIR": str(var_dir),
        "DEBUG": "true",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "STORAGE_BUCKET", "UPLOAD_SPOOL_DIR"):
        env.pop(name, None)  # a self-contained run: SQLite, embedded broker, local files
    case, token = _prepare(env)
    port = _free_port()
    server = _serve(env, port, args)
    figures = Figures()
    try:
        # A small upload to each worker first, so the baseline includes the code a first request imports.
        warm_up = var_dir / "warm-up.bin"
        _write_file(warm_up, 4 * MiB)
        for _worker in range(2 * args.workers):
            _upload(port, case, token, warm_up, MiB)
        figures.idle_kib = max(_peak_kib(pid) for pid in _children(server.pid))
        _rounds(var_dir, source, args, port, case, token, figures)
        figures.peak_kib = max(_peak_kib(pid) for pid in _children(server.pid))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    return figures


def _report(title: str, figures: Figures) -> None:
    tus_rate = median(figures.uploads)
    copy_rate, raw_rate = median(figures.hashed_copies), median(figures.plain_copies)
    print(title)
    print(
        f"  tus upload (sha256 per chunk + whole file, fsync per chunk): {tus_rate:.0f} MiB/s "
        f"= {tus_rate * 1.048576:.0f} MB/s (rounds: {', '.join(f'{r:.0f}' for r in figures.uploads)})"
    )
    print(f"  plain copy of the same bytes (copyfileobj + fsync):          {raw_rate:.0f} MiB/s")
    print(f"  plain copy with sha256 + fsync:                              {copy_rate:.0f} MiB/s")
    print(
        f"  ratio tus / plain copy: {tus_rate / raw_rate:.2f}; "
        f"tus / plain copy with sha256: {tus_rate / copy_rate:.2f}"
    )
    # The server's own rate: bytes over time spent inside PATCH requests.
    print(
        f"  median PATCH {median(figures.patches) * 1000:.0f} ms "
        f"(last, with completion: {median(figures.lasts) * 1000:.0f} ms); "
        f"server-side rate {median(figures.server_rates):.0f} MiB/s"
    )
    print(
        f"  server peak RSS per worker (VmHWM): {figures.peak_kib / 1024:.0f} MiB "
        f"(after a small warm-up upload: {figures.idle_kib / 1024:.0f} MiB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of copy, copy, upload (median)")
    parser.add_argument("--dir", default=None, help="working folder (default: a temporary one under var/)")
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    size = args.size_mib * MiB
    work = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=args.dir or ROOT / "var"))
    memory = None
    try:
        source = work / "bench.bin"
        _write_file(source, size)
        print(
            f"file: {size // MiB} MiB, chunks of {args.chunk_mib} MiB, gunicorn {args.workers}x{args.threads} "
            f"(gthread); median of {args.repeat} rounds"
        )
        _report("on disk (the deployment's case):", _measure(work / "portal", source, args))
        shm = Path("/dev/shm")
        if shm.is_dir() and shutil.disk_usage(shm).free > (3 * args.repeat + 1) * size:
            # The same path with storage that is never the bottleneck: what the software itself sustains.
            memory = Path(tempfile.mkdtemp(prefix="bench-upload-", dir=shm))
            _report("in memory (tmpfs; what the software sustains):", _measure(memory, source, args))
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if memory is not None:
            shutil.rmtree(memory, ignore_errors=True)


if __name__ == "__main__":
    main()
