"""Several hosts on one machine: web processes (gunicorn) and Celery workers, each with its own spool and
working folder, sharing the test database, the broker and a bucket (moto's server in its own process)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

from tests.pipeline.realworker import ROOT, Broker, Worker, database_url, wait_for
from tests.storage.moto_server import KEYS, free_port, wait_port

GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
METRICS_TOKEN = "hosts-metrics-token"


def host_env(
    *, broker: Broker, folder: Path, endpoint: str, bucket: str, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of one host: shared services, a folder of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    return {
        **broker.env,
        "DATABASE_URL": database_url(),
        "PORTAL_VAR_DIR": str(folder),
        "UPLOAD_SPOOL_DIR": str(folder / "spool"),
        "STORAGE_BUCKET": bucket,
        "STORAGE_ENDPOINT_URL": endpoint,
        "STORAGE_ACCESS_KEY": KEYS["aws_access_key_id"],
        "STORAGE_SECRET_KEY": KEYS["aws_secret_access_key"],
        "STORAGE_REGION": KEYS["region_name"],
        "UPLOAD_PART_SIZE": str(5 * 1024 * 1024),
        "LOG_FORMAT": "json",
        "METRICS_TOKEN": METRICS_TOKEN,
        **(extra or {}),
    }


class WebHost:
    """``gunicorn config.wsgi`` on a free port of 127.0.0.1, in its own process group."""

    def __init__(self, name: str, env: dict[str, str], *, workers: int = 1, threads: int = 4) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.workers = workers
        self.threads = threads
        self.log = Path(env["PORTAL_VAR_DIR"]) / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> WebHost:
        env = {**os.environ, **self.env, "DJANGO_SETTINGS_MODULE": "config.settings"}
        if self.workers > 1:  # each worker's counters in files that /metrics sums, as in docker-compose.yml
            env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(self.env["PORTAL_VAR_DIR"]) / "prometheus")
        env.pop("PYTEST_XDIST_WORKER", None)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [GUNICORN, "config.wsgi:application", "--config", "deploy/gunicorn.conf.py",
                 "--bind", f"127.0.0.1:{self.port}",
                 "--workers", str(self.workers), "--threads", str(self.threads), "--timeout", "300"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_port(self.port, 60)
        return self

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return [child.pid for child in psutil.Process(self.process.pid).children()]

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def spool_files(folder: Path) -> list[str]:
    spool = folder / "spool"
    return sorted(os.listdir(spool)) if spool.exists() else []


def start_worker(broker: Broker, env: dict[str, str]) -> Worker:
    return Worker(broker, concurrency=1, extra_env=env).start()


def wait_until(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    return wait_for(condition, timeout, what, every=0.3)


class PeakRss:
    """Samples the resident memory of processes every 50 ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, pids: list[int]) -> None:
        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for process in self.processes:
                try:
                    self.peak = max(self.peak, process.memory_info().rss)
                except psutil.NoSuchProcess:
                    return
            time.sleep(0.05)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
