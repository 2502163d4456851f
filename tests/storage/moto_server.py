"""moto's standalone S3 server (ThreadedMotoServer) on a free port, in this process or its own, and a TCP
proxy in front of it that can fail on demand (a bucket that goes away mid-transfer).

Run as ``python -m tests.storage.moto_server PORT`` for a server in its own process: moto joins a
multipart upload in memory, so a 2 GiB upload would otherwise swell the test process by 2 GiB.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}), **KEYS)


class MotoServer:
    """ThreadedMotoServer in a thread of this process (``own_process=False``) or in a subprocess."""

    def __init__(self, *, own_process: bool = False) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.own_process = own_process
        self._server = None
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        if self.own_process:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.storage.moto_server", str(self.port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        else:
            # Late: moto takes about a second to import, and only the in-process server needs it.
            from moto.server import ThreadedMotoServer

            self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
            self._server.start()
        wait_port(self.port)
        return self

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)

    def client(self):  # type: ignore[no-untyped-def]
        return s3_client(self.endpoint)


class FlakyProxy:
    """Forwards TCP connections to a server; ``cut_after(n)`` closes every new connection once the
    client has sent ``n`` bytes through it (``None``: healthy), ``refuse()`` closes them at once."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.limit: int | None = None
        self.cuts = 0
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def cut_after(self, limit: int | None) -> None:
        self.limit = limit

    def refuse(self) -> None:
        self.limit = 0

    def healthy(self) -> None:
        self.limit = None

    def _serve(self) -> None:
        while not self._stopping:
            try:
                client, _address = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._pipe_pair, args=(client, self.limit), daemon=True).start()

    def _pipe_pair(self, client: socket.socket, limit: int | None) -> None:
        if limit == 0:
            self.cuts += 1
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:
            client.close()
            return
        done = threading.Event()

        def pump(source: socket.socket, sink: socket.socket, budget: int | None) -> None:
            sent = 0
            try:
                while True:
                    data = source.recv(65536)
                    if not data:
                        break
                    if budget is not None and sent + len(data) > budget:
                        self.cuts += 1
                        break
                    sink.sendall(data)
                    sent += len(data)
            except OSError:
                pass
            finally:
                done.set()

        threading.Thread(target=pump, args=(client, upstream, limit), daemon=True).start()
        threading.Thread(target=pump, args=(upstream, client, None), daemon=True).start()
        done.wait()
        for sock in (client, upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        self._stopping = True
        self._listener.close()


if __name__ == "__main__":
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
    server.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
