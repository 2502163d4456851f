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
import base64
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LIMIT = 90.0  # seconds a scenario may take to recover before what is missing counts as lost
SLOW_SECONDS = 4


@dataclass
class Figures:
    scenario: str
    jobs: int
    done: int
    duplicated: int
    owed_emails: int
    sent_emails: int
    duplicated_emails: int
    recovery: float
    note: str = ""

    @property
    def lost(self) -> int:
        return self.jobs - self.done

    @property
    def lost_emails(self) -> int:
        return self.owed_emails - self.sent_emails


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="slow jobs in the worker-kill scenarios")
    parser.add_argument(
        "--uploads", type=int, default=8, help="uploads (and messages) during the Redis outage"
    )
    parser.add_argument("--outage", type=float, default=15.0, help="seconds Redis stays down in scenario 3")
    args = parser.parse_args()
    if shutil.which("redis-server") is None:
        raise SystemExit("bench/faults.py needs redis-server (apt-get install redis-server)")

    var_dir = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    sys.path.insert(0, str(REPO_ROOT))
    from tests.pipeline.realworker import OwnRedis, free_port

    redis = OwnRedis(var_dir)
    redis.start()
    _setup(var_dir, redis.url)

    import requests
    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import storages
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases
    from rest_framework.authtoken.models import Token

    from accounts.models import Organisation, User
    from analysis import queueing
    from analysis.models import AnalysisJob
    from cases import services as case_services
    from cases.models import AuditEvent
    from communications.models import EmailDelivery
    from outbox.models import OutboxMessage
    from tests.analysis.test_linux_oops import X86_OOPS
    from tests.pipeline.realworker import Broker, Worker, database_url, mail_subjects, wait_for
    from tests.pipeline.worker_app import SLOW_MARKER
    from uploads.models import Upload

    sample = var_dir / "oops.txt"
    sample.write_text(X86_OOPS)
    mail_dir = var_dir / "mail"
    databases = setup_databases(verbosity=0, interactive=False)
    processes: list[Process] = []
    worker: Worker | None = None
    results: list[Figures] = []
    try:
        with Broker(var_dir) as broker:
            env = {
                **os.environ,
                **broker.env,
                "DATABASE_URL": database_url(),
                "PIPELINE_TEST_SAMPLE": str(sample),
                "PIPELINE_TEST_SLOW_SECONDS": str(SLOW_SECONDS),
            }
            env.pop("DATABASE_TEST_NAME", None)
            port = free_port()
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
            processes += [web, beat]

            def new_worker() -> Worker:
                return Worker(broker, concurrency=2, extra_env=env).start()

            worker = new_worker()
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 30, "gunicorn")

            organisation = Organisation.objects.create(name="Contoso", slug="contoso")
            engineer = User.objects.create_user("engineer", "engineer@example.com", "x", role="engineer")
            customer = User.objects.create_user(
                "alice", "alice@example.com", "x", role="customer", organisation=organisation
            )
            token = Token.objects.create(user=customer).key
            storage = storages["uploads"]

            def new_case(title: str):
                return case_services.case_create(
                    actor=engineer,
                    organisation=organisation,
                    title=title,
                    customer_contact=customer,
                    owner=engineer,
                )

            def slow_jobs(case, count: int) -> list[int]:
                ids = []
                for n in range(count):
                    name = storage.save(f"{case.number}/slow-{n}.dmp", ContentFile(SLOW_MARKER + b"\n"))
                    upload = Upload.objects.create(
                        case=case, uploaded_by=customer, filename=f"slow-{n}.dmp", size=19, offset=19,
                        sha256="0" * 64, state=Upload.State.STORED, storage_name=name,
                    )  # fmt: skip
                    ids.append(queueing.job_queue_for_upload(upload=upload).pk)
                return ids

            def finished(job_ids: list[int]) -> bool:
                states = AnalysisJob.objects.filter(pk__in=job_ids).values_list("state", flat=True)
                return all(state in ("done", "failed") for state in states)

            def count(
                scenario: str, job_ids: list[int], events: list, took: float, note: str = ""
            ) -> Figures:
                done = AnalysisJob.objects.filter(pk__in=job_ids, state="done").count()
                # Rows cannot be doubled (UNIQUE(upload, index)); a job completed twice would show as two
                # "analysis done" events (two notices to the engineer), a second job as two job rows.
                duplicated = sum(
                    1
                    for job in AnalysisJob.objects.filter(pk__in=job_ids)
                    if AuditEvent.objects.filter(action="analysis_done", data__job=job.pk).count() > 1
                    or AnalysisJob.objects.filter(upload_id=job.upload_id).count() > 1
                )
                # Each event owes the engineer one e-mail: sent when its delivery is and the mail went out
                # (Django's file backend); one written more often than there are deliveries is duplicated.
                seen = mail_subjects(mail_dir)
                deliveries = list(EmailDelivery.objects.filter(event__in=events, to=engineer.email))
                sent = len(
                    {
                        d.event_id
                        for d in deliveries
                        if d.state == EmailDelivery.State.SENT and seen[d.subject]
                    }
                )
                expected = Counter(d.subject for d in deliveries)
                twice = sum(max(0, seen[subject] - n) for subject, n in expected.items())
                return Figures(scenario, len(job_ids), done, duplicated, len(events), sent, twice, took, note)

            # 1. A pool process killed mid-job.
            case = new_case("pool kill")
            jobs = slow_jobs(case, args.jobs)
            wait_for(lambda: AnalysisJob.objects.filter(pk__in=jobs, state="running").exists(), 30, "a job")
            time.sleep(1)
            killed = time.monotonic()
            worker.kill_pool_process()
            _wait(lambda: finished(jobs), LIMIT)
            results.append(
                count("pool process SIGKILL", jobs, [], time.monotonic() - killed, "from the kill")
            )

            # 2. The whole worker killed mid-job, a replacement started 1 s later.
            case = new_case("worker kill")
            jobs = slow_jobs(case, args.jobs)
            wait_for(lambda: AnalysisJob.objects.filter(pk__in=jobs, state="running").exists(), 30, "a job")
            time.sleep(1)
            killed = time.monotonic()
            worker.kill_all()
            time.sleep(1)
            replaced = time.monotonic()
            worker = new_worker()
            _wait(lambda: finished(jobs), LIMIT)
            end = time.monotonic()
            note = f"from the replacement's start ({end - killed:.1f} s from the kill)"
            results.append(count("whole worker SIGKILL", jobs, [], end - replaced, note))

            # 3. Redis stopped while customers upload and write, then restarted empty.
            case = new_case("outage")
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Token {token}", "Tus-Resumable": "1.0.0"}
            browser = requests.Session()  # a customer in the portal's pages, signed in before the outage
            browser.get(f"{base}/accounts/login/", timeout=30)
            browser.post(
                f"{base}/accounts/login/",
                data={
                    "username": "alice",
                    "password": "x",
                    "csrfmiddlewaretoken": browser.cookies["csrftoken"],
                },
                timeout=30,
            )
            redis.kill()
            answers: Counter[int] = Counter()
            started = time.monotonic()
            for n in range(args.uploads):
                data = f"{X86_OOPS}\nupload {n}\n".encode()
                name = f"dmesg-{n}.txt"
                created = requests.post(
                    f"{base}/api/cases/{case.number}/uploads/tus/",
                    headers={
                        **headers,
                        "Upload-Length": str(len(data)),
                        "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode(),
                    },
                    timeout=30,
                )
                answers[created.status_code] += 1
                patched = requests.patch(
                    created.headers["Location"],
                    data=data,
                    headers={
                        **headers,
                        "Content-Type": "application/offset+octet-stream",
                        "Upload-Offset": "0",
                    },
                    timeout=30,
                )
                answers[patched.status_code] += 1
            for n in range(args.uploads):
                message = requests.post(
                    f"{base}/api/cases/{case.number}/timeline/",
                    headers={"Authorization": f"Token {token}"},
                    json={"body": f"Any news? ({n})"},
                    timeout=30,
                )
                answers[message.status_code] += 1
            for url in ("/cases/", f"/cases/{case.number}/", f"/cases/{case.number}/upload/"):
                answers[browser.get(f"{base}{url}", timeout=30, allow_redirects=False).status_code] += 1
            time.sleep(max(0.0, args.outage - (time.monotonic() - started)))
            jobs = list(AnalysisJob.objects.filter(upload__case=case).values_list("pk", flat=True))
            pending = OutboxMessage.objects.filter(state="pending").count()
            back = redis.start()
            events = list(AuditEvent.objects.filter(case=case, action__in=["upload_stored", "message_added"]))

            def all_sent() -> bool:
                return EmailDelivery.objects.filter(event__in=events, state="sent").count() >= len(events)

            _wait(lambda: finished(jobs) and all_sent(), LIMIT)
            took = time.monotonic() - back
            statuses = ", ".join(f"{code}: {n}" for code, n in sorted(answers.items()))
            note = (
                f"from Redis answering again; answers while down {statuses}; {pending} outbox messages waited"
            )
            results.append(count("Redis down during uploads", jobs, events, took, note))

            # 4. Redis restarted empty while jobs wait in it.
            worker.stop()
            case = new_case("restart")
            jobs = slow_jobs(case, args.jobs)  # published into Redis; no worker takes them
            time.sleep(1)
            redis.kill()
            back = redis.start()
            worker = new_worker()
            _wait(lambda: finished(jobs), LIMIT)
            results.append(
                count(
                    "Redis restarted empty, jobs queued",
                    jobs,
                    [],
                    time.monotonic() - back,
                    "from Redis answering",
                )
            )
    finally:
        if worker is not None:
            worker.stop()
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


def _wait(condition, limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def _print(results: list[Figures], settings) -> bool:
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
