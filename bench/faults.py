"""Fault injection, in real time: nothing lost, nothing done twice, recovery within 30 s (issue 14).

The portal runs as in production, every part a process of its own: gunicorn (web), a Celery worker (2
processes) and Celery beat (the outbox dispatcher every OUTBOX_DISPATCH_INTERVAL, the reconciler every
ANALYSIS_RECONCILE_INTERVAL), on PostgreSQL and a redis-server this script starts on a spare port. No
clock is moved: every figure is wall time. Faults:

1. a worker pool process SIGKILLed mid-job (like the OOM killer);
2. the whole worker SIGKILLed mid-job (the machine lost power), a replacement started 1 s later;
3. Redis stopped while customers upload (tus over HTTP), post messages and read pages, then restarted
   empty;
4. Redis restarted empty while jobs wait in it (no worker running).

For each it prints the jobs done, lost (not done within the limit) and duplicated (results written
twice), the notification e-mails owed, sent, lost and duplicated, and the recovery time: from the
replacement worker's start, or from Redis answering again, until the last job and e-mail are done.
Targets: 0 lost, 0 duplicated, recovery <= 30 s.

Run: ``make faults`` or ``DATABASE_URL=postgres://... python bench/faults.py``. Works in its own
database (``<name>_faults_bench``, created and dropped) and needs redis-server (Debian package).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SLOW_SECONDS = 4


def _setup(var_dir: Path, redis_url: str) -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("bench/faults.py needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/name")
    name = url.rsplit("/", 1)[-1].split("?")[0]
    os.environ["DATABASE_TEST_NAME"] = f"{name}_faults_bench"
    os.environ["PORTAL_VAR_DIR"] = str(var_dir)
    os.environ["REDIS_URL"] = redis_url
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.filebased.EmailBackend"
    os.environ["EMAIL_FILE_PATH"] = str(var_dir / "mail")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


class Process:
    """A child in its own process group, logging to a file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="slow jobs in the worker-kill scenarios")
    parser.add_argument(
        "--uploads", type=int, default=8, help="uploads (and messages) during the Redis outage"
    )
    parser.add_argument("--outage", type=float, default=15.0, help="seconds Redis stays down in scenario 3")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("bench/faults.py needs redis-server (apt-get install redis-server)")
    return args


def _worker_environment(broker, var_dir: Path, database_url: str) -> dict[str, str]:
    """What web, beat and workers run with: the benchmark's database and broker, the slow sample."""
    from tests.analysis.test_linux_oops import X86_OOPS

    sample = var_dir / "oops.txt"
    sample.write_text(X86_OOPS)
    env = {
        **os.environ,
        **broker.env,
        "DATABASE_URL": database_url,
        "PIPELINE_TEST_SAMPLE": str(sample),
        "PIPELINE_TEST_SLOW_SECONDS": str(SLOW_SECONDS),
    }
    env.pop("DATABASE_TEST_NAME", None)
    return env


def _web_and_beat(env: dict[str, str], port: int, var_dir: Path) -> list[Process]:
    web = Process(
        "web",
        [str(BIN / "gunicorn"), "config.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--timeout", "60"],
        env,
        var_dir / "web.log",
    ).start()  # fmt: skip
    beat = Process(
        "beat",
        [str(BIN / "celery"), "-A", "config", "beat", "-s", str(var_dir / "beat-schedule"), "-l", "INFO"],
        env,
        var_dir / "beat.log",
    ).start()  # fmt: skip
    return [web, beat]


def main() -> None:
    args = _arguments()
    var_dir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    sys.path.insert(0, str(REPO_ROOT))
    from tests.pipeline.realworker import OwnRedis, free_port

    redis = OwnRedis(var_dir)
    redis.start()
    _setup(var_dir, redis.url)
    # The models (and so the scenarios) can be imported only now that Django is set up.
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases
    from fault_scenarios import SCENARIOS, Site

    from tests.pipeline.realworker import Broker, database_url, wait_for

    databases = setup_databases(verbosity=0, interactive=False)
    processes: list[Process] = []
    site: Site | None = None
    try:
        with Broker(var_dir) as broker:
            env = _worker_environment(broker, var_dir, database_url())
            port = free_port()
            processes += _web_and_beat(env, port, var_dir)
            site = Site.create(args=args, broker=broker, env=env, redis=redis, var_dir=var_dir, port=port)
            site.new_worker()
            wait_for(lambda: _answers(f"{site.base}/healthz"), 30, "gunicorn")
            results = [scenario(site) for scenario in SCENARIOS]
    finally:
        if site is not None and site.worker is not None:
            site.worker.stop()
        for process in processes:
            process.stop()
        connection.close()
        teardown_databases(databases, verbosity=0)
        redis.kill()

    if _print(results, settings):
        shutil.rmtree(var_dir, ignore_errors=True)
    else:
        print(f"logs of web, beat and workers kept in {var_dir}")


def _answers(url: str) -> bool:
    import requests

    try:
        return requests.get(url, timeout=2).status_code in (200, 503)
    except requests.RequestException:
        return False


def _print(results: list, settings) -> bool:
    print(
        f"\nbench/faults.py: PostgreSQL + Redis (own redis-server), gunicorn, worker -c 2, beat "
        f"(outbox every {settings.OUTBOX_DISPATCH_INTERVAL} s, reconciler every "
        f"{settings.ANALYSIS_RECONCILE_INTERVAL} s); wall time, no clock moved\n"
    )
    header = f"{'fault':<36} {'jobs':>4} {'lost':>4} {'dup':>4} {'e-mails':>7} {'lost':>4} {'dup':>4} {'recovery s':>10}"
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r.scenario:<36} {r.jobs:>4} {r.lost:>4} {r.duplicated:>4} {r.owed_emails:>7} {r.lost_emails:>4} "
            f"{r.duplicated_emails:>4} {r.recovery:>10.1f}"
        )
    print()
    for r in results:
        print(f"{r.scenario}: recovery measured {r.note}")
    worst = max(r.recovery for r in results)
    lost = sum(r.lost + r.lost_emails for r in results)
    duplicated = sum(r.duplicated + r.duplicated_emails for r in results)
    verdict = "met" if lost == 0 and duplicated == 0 and worst <= 30 else "NOT met"
    print(f"\ntargets (0 lost, 0 duplicated, recovery <= 30 s): {verdict}; worst recovery {worst:.1f} s")
    return verdict == "met"


if __name__ == "__main__":
    main()
