"""Object storage benchmark: the bucket path's upload rate against the local-disk path in the same run, and
the bytes fetched to read a 16 GiB kernel memory dump's header from the bucket.

1. The same file is uploaded through the tus endpoint (gunicorn, 64 MiB chunks, SHA-256 per chunk) to a
   portal with local files and to one with a bucket (moto's S3 server in its own process: every chunk's
   parts are sent to it before the chunk is acknowledged), alternately, ``--repeat`` times; MiB/s of each
   and their ratio. moto is a Python server on the same two cores: it sets the bucket path's ceiling here,
   as the network and the store do in production.
2. A 16 GiB sparse MEMORY.DMP in a bucket (moto in this process, the object's bytes a memory map of a
   sparse file, since moto would otherwise read the whole object for every ranged GET): the analysis's
   reader parses it and the bytes and requests it fetched are printed, with the parse time against the
   same file on local disk.

    .venv/bin/python bench/storage.py [--size-mib 512] [--chunk-mib 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import mmap
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import upload as upload_bench  # noqa: E402  (bench/upload.py: the tus client and the server set-up)

from tests.analysis.dump_fixtures import KernelDump  # noqa: E402
from tests.storage.moto_server import KEYS, MotoServer, free_port  # noqa: E402

MiB = 1024 * 1024
GiB = 1024 * MiB


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "config.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "1", "--threads", "4", "--timeout", "300", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    from tests.storage.moto_server import wait_port

    wait_port(port, 60)
    return server, port


def _portal(
    root: Path, name: str, moto: MotoServer, bucket: str
) -> tuple[subprocess.Popen[bytes], tuple[int, str, str]]:
    """A portal with its files on local disk (``disk``) or in the bucket (``bucket``): its server, port,
    case and customer token."""
    env = {**os.environ, "PORTAL_VAR_DIR": str(root / name), "DEBUG": "true", "LOG_LEVEL": "WARNING"}
    for variable in ("DATABASE_URL", "REDIS_URL", "STORAGE_BUCKET", "UPLOAD_SPOOL_DIR"):
        env.pop(variable, None)
    if name == "bucket":
        env.update(
            STORAGE_BUCKET=bucket,
            STORAGE_ENDPOINT_URL=moto.endpoint,
            STORAGE_ACCESS_KEY=KEYS["aws_access_key_id"],
            STORAGE_SECRET_KEY=KEYS["aws_secret_access_key"],
            STORAGE_REGION=KEYS["region_name"],
        )
    (root / name).mkdir()
    case, token = upload_bench._prepare(env)
    server, port = _serve(env)
    return server, (port, case, token)


def _print_rates(args: argparse.Namespace, rates: dict[str, list[float]]) -> None:
    disk, remote = statistics.median(rates["disk"]), statistics.median(rates["bucket"])
    print(f"upload of {args.size_mib} MiB in {args.chunk_mib} MiB chunks, median of {args.repeat} rounds:")
    print(
        f"  local disk (spool, rename)        {disk:7.0f} MiB/s  rounds {', '.join(f'{r:.0f}' for r in rates['disk'])}"
    )
    print(
        f"  bucket (parts sent per chunk)     {remote:7.0f} MiB/s  rounds {', '.join(f'{r:.0f}' for r in rates['bucket'])}"
    )
    direct = statistics.median(rates["s3 client"])
    print(
        f"  boto3 multipart straight to moto  {direct:7.0f} MiB/s  rounds "
        f"{', '.join(f'{r:.0f}' for r in rates['s3 client'])}"
    )
    print(f"  bucket / disk                     {remote / disk:7.2f}")
    print(f"  bucket / boto3 alone              {remote / direct:7.2f}  (the same S3 server, no portal)")


def upload_rates(args: argparse.Namespace) -> None:
    moto = MotoServer(own_process=True).start()
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    moto.client().create_bucket(Bucket=bucket)
    servers = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-storage-", dir=ROOT / "var") as folder:
            root = Path(folder)
            source = root / "MEMORY.DMP"
            upload_bench._write_file(source, args.size_mib * MiB)
            setups: dict[str, tuple[int, str, str]] = {}
            for name in ("disk", "bucket"):
                server, setups[name] = _portal(root, name, moto, bucket)
                servers.append(server)
            rates: dict[str, list[float]] = {"disk": [], "bucket": [], "s3 client": []}
            for number in range(args.repeat):
                for name in ("disk", "bucket"):
                    port, case, token = setups[name]
                    elapsed, _upload_id, _durations = upload_bench._upload(
                        port, case, token, source, args.chunk_mib * MiB
                    )
                    rates[name].append(args.size_mib / elapsed)
                rates["s3 client"].append(args.size_mib / _direct_upload(moto, bucket, source, number))
            _print_rates(args, rates)
    finally:
        for server in servers:
            server.terminate()
            server.wait(20)
        moto.stop()


def _direct_upload(moto: MotoServer, bucket: str, source: Path, number: int) -> float:
    """The same file sent by boto3 alone (16 MiB parts, 4 at a time, as the portal): the S3 server's
    own ceiling on this machine, measured in the same run."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(multipart_threshold=16 * MiB, multipart_chunksize=16 * MiB, max_concurrency=4)
    started = time.perf_counter()
    moto.client().upload_file(str(source), bucket, f"direct/{number}", Config=config)
    return time.perf_counter() - started


def _sparse_key(s3, path: Path, size: int):  # type: ignore[no-untyped-def]
    """The bucket's object made a view of the sparse file, so a ranged GET touches only its pages."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import FakeKey, s3_backends

    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="cases/MEMORY.DMP", Body=b"placeholder")
    handle = path.open("rb")
    view = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    # moto's model classes must live in a moto module (its metaclass reads the service name there).
    # The value is the memory map: moto's range handling slices it, touching only those pages.
    SparseKey = type(
        "SparseKey",
        (FakeKey,),
        {"__module__": "moto.s3.models", "value": property(lambda self: view)},
    )
    key = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object("bench", "cases/MEMORY.DMP")
    key.__class__ = SparseKey
    key.contentsize = size
    return handle, view


def _header_reads(s3, path: Path, size: int) -> None:  # type: ignore[no-untyped-def]
    from analysis.rules import analyse_file
    from uploads.bucket import RangedReader

    runs, local_runs, fetched, requests = [], [], 0, 0
    for _ in range(20):
        reader = RangedReader(key="cases/MEMORY.DMP", s3=s3, bucket="bench")
        started = time.perf_counter()
        with io.BufferedReader(reader, buffer_size=64 * 1024) as stream:
            result = analyse_file(stream, display_name="MEMORY.DMP")
        runs.append(time.perf_counter() - started)
        fetched, requests = reader.fetched, reader.requests
        assert result.crashes and result.crashes[0].bugcheck_code == "0x000000be", result
        started = time.perf_counter()
        analyse_file(path)
        local_runs.append(time.perf_counter() - started)
    print(f"16 GiB sparse MEMORY.DMP in the bucket, header read by the analysis (median of {len(runs)}):")
    print(
        f"  fetched {fetched:,} bytes in {requests} ranged GET(s) + 1 HEAD = {fetched / size:.7%} of the file"
    )
    print(
        f"  parse {statistics.median(runs) * 1e3:.1f} ms from the bucket, {statistics.median(local_runs) * 1e3:.1f} ms from local disk"
    )


def header_bytes() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    size = 16 * GiB
    with tempfile.TemporaryDirectory(prefix="bench-sparse-") as folder:
        path = Path(folder) / "MEMORY.DMP"
        with path.open("wb") as handle:
            handle.write(KernelDump(dump_type=5, required_space=size).build())
            handle.truncate(size)  # sparse: no disk used
        moto = MotoServer().start()
        try:
            s3 = moto.client()
            handle, view = _sparse_key(s3, path, size)
            _header_reads(s3, path, size)
            view.close()
            handle.close()
        finally:
            moto.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--chunk-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    header_bytes()
    upload_rates(args)


if __name__ == "__main__":
    main()
