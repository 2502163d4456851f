"""A real Celery worker in a subprocess, on the test database and an isolated broker (STYLE.md rule 9).

The broker is the one the suite runs with: Redis (a separate database number) when REDIS_URL is set, the
embedded file-system broker (a temporary folder) otherwise. The test process's Celery app is pointed at
the same broker while the worker fixture lives.
"""

from __future__ import annotations

import email
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from email.header import decode_header, make_header
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psutil
from django.conf import settings
from django.db import connection
from kombu import pools

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))
# The Redis database of the test broker (flushed at start): never one a developer's own worker listens on.
REDIS_TEST_DB = int(os.environ.get("REDIS_TEST_DB", "13"))


def database_url() -> str:
    """The URL of the test database this process is using, for the worker subprocess."""
    db = connection.settings_dict
    if db["ENGINE"].endswith(".sqlite3"):
        return f"sqlite:///{db['NAME']}"
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _redis_test_url() -> str:
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit((parts.scheme, parts.netloc, f"/{REDIS_TEST_DB}", parts.query, ""))


class Broker:
    """The broker shared by the test process and its workers; isolated from any other worker."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.env: dict[str, str] = {"PORTAL_VAR_DIR": str(var_dir)}
        self._saved = (app.conf.broker_url, app.conf.broker_transport_options)
        if settings.REDIS_URL:
            self.url = _redis_test_url()
            self.options = dict(app.conf.broker_transport_options or {})
            self.env["REDIS_URL"] = self.url
        else:
            folder = var_dir / "celery-broker"
            (folder / "processed").mkdir(parents=True, exist_ok=True)
            self.url = "filesystem://localhost/"
            self.options = {
                "data_folder_in": str(folder),
                "data_folder_out": str(folder),
                "processed_folder": str(folder / "processed"),
                "store_processed": False,
                "control_folder": str(folder / "control"),
                "polling_interval": 0.1,
            }
            self.env["CELERY_BROKER_DIR"] = str(folder)

    def _point_app(self, url: str, options: dict) -> None:
        app.conf.broker_url = url
        app.conf.broker_transport_options = options
        # Connections and producers are pooled per app: drop them so the next publish uses the new broker.
        # kombu keeps them in global pools keyed by URL and options: reset those too, or a pool closed
        # here would be handed back for the same Redis URL in the next test.
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    def __enter__(self) -> Broker:
        self._point_app(self.url, self.options)
        if settings.REDIS_URL:
            with app.connection_for_write() as conn:
                conn.default_channel.client.flushdb()  # leftovers of an earlier run on this test database
        return self

    def __exit__(self, *exc: object) -> None:
        self._point_app(*self._saved)


class Worker:
    """``celery worker -Q analysis,default -c N -P prefork`` in its own process group."""

    def __init__(
        self, broker: Broker, *, concurrency: int = 1, extra_env: dict[str, str] | None = None
    ) -> None:
        self.broker = broker
        self.concurrency = concurrency
        self.extra_env = extra_env or {}
        self.name = f"pipeline-{uuid.uuid4().hex[:8]}@%h"
        self.process: subprocess.Popen[bytes] | None = None
        self.log = broker.var_dir / f"worker-{uuid.uuid4().hex[:6]}.log"

    def start(self, timeout: float = 60) -> Worker:
        env = {
            **os.environ,
            **self.broker.env,
            "DATABASE_URL": database_url(),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            **self.extra_env,
        }
        env.pop("PYTEST_XDIST_WORKER", None)
        command = [
            CELERY, "-A", "tests.pipeline.worker_app", "worker", "-Q", "analysis,default",
            "-c", str(self.concurrency), "-P", "prefork", "-n", self.name, "-l", "INFO",
            "--without-mingle", "--without-gossip", "--without-heartbeat",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_for(lambda: b" ready." in self.log.read_bytes(), timeout, f"worker start (log: {self.log})")
        return self

    def pool_pids(self) -> list[int]:
        assert self.process is not None
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def kill_pool_process(self) -> int:
        pid = self.pool_pids()[0]
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_all(self) -> None:
        """SIGKILL the whole worker (main process and pool), like a machine losing power."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGTERM)  # warm shutdown
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_for(condition: Callable[[], object], timeout: float, what: str, every: float = 0.2) -> float:
    """Poll until ``condition()`` is true; returns the seconds it took, fails the test on timeout."""
    start = time.monotonic()
    while True:
        if condition():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OwnRedis:
    """A redis-server of its own on a spare port in a folder (never the shared one), without persistence:
    a restart loses every message, the worst case for recovery."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> float:
        """Start (again, empty) on the same port; returns the monotonic time it answered."""
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed (Debian package redis-server)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder),
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self.answers, 20, "our redis-server", every=0.05)
        return time.monotonic()

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def mail_subjects(folder: Path) -> Counter[str]:
    """Subjects of the e-mails Django's file backend wrote in ``folder`` (workers send with it in the
    fault tests): each message is followed by a line of 79 dashes; headers may be MIME-encoded."""
    seen: Counter[str] = Counter()
    if not folder.exists():
        return seen
    for path in folder.iterdir():
        for raw in path.read_bytes().split(b"\n" + b"-" * 79 + b"\n"):
            if raw.strip():
                subject = email.message_from_bytes(raw).get("Subject", "")
                seen[str(make_header(decode_header(subject)))] += 1
    return seen
