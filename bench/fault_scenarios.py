"""The four faults of bench/faults.py, each a step of its own, on a portal already running.

Imported by bench/faults.py once Django is set up (it needs the models): the web, beat and worker processes
run beside this one, on the benchmark's own database and redis-server.
"""

from __future__ import annotations

import argparse
import base64
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import requests
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from rest_framework.authtoken.models import Token

from accounts.models import Organisation, User
from analysis import queueing
from analysis.models import AnalysisJob
from cases import services as case_services
from cases.models import AuditEvent, Case
from communications.models import EmailDelivery
from outbox.models import OutboxMessage
from tests.analysis.test_linux_oops import X86_OOPS
from tests.pipeline.realworker import Broker, OwnRedis, Worker, mail_subjects, wait_for
from tests.pipeline.worker_app import SLOW_MARKER
from uploads.models import Upload

LIMIT = 90.0  # seconds a scenario may take to recover before what is missing counts as lost


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


@dataclass
class Site:
    """The running portal as the scenarios see it: its people, its worker, its Redis and its address."""

    args: argparse.Namespace
    broker: Broker
    env: dict[str, str]
    redis: OwnRedis
    mail_dir: Path
    base: str
    organisation: Organisation
    engineer: User
    customer: User
    token: str
    worker: Worker | None = None
    storage: object = field(default_factory=lambda: storages["uploads"])

    @classmethod
    def create(
        cls, *, args, broker: Broker, env: dict[str, str], redis: OwnRedis, var_dir: Path, port: int
    ) -> Site:
        organisation = Organisation.objects.create(name="Contoso", slug="contoso")
        engineer = User.objects.create_user("engineer", "engineer@example.com", "x", role="engineer")
        customer = User.objects.create_user(
            "alice", "alice@example.com", "x", role="customer", organisation=organisation
        )
        return cls(
            args=args, broker=broker, env=env, redis=redis, mail_dir=var_dir / "mail",
            base=f"http://127.0.0.1:{port}", organisation=organisation, engineer=engineer,
            customer=customer, token=Token.objects.create(user=customer).key,
        )  # fmt: skip

    def new_worker(self) -> Worker:
        # Kept before it starts, so a worker that never says it is ready is still stopped at the end.
        self.worker = Worker(self.broker, concurrency=2, extra_env=self.env)
        return self.worker.start()

    def new_case(self, title: str) -> Case:
        return case_services.case_create(
            actor=self.engineer,
            organisation=self.organisation,
            title=title,
            customer_contact=self.customer,
            owner=self.engineer,
        )

    def slow_jobs(self, case: Case, count: int) -> list[int]:
        ids = []
        for n in range(count):
            name = self.storage.save(f"{case.number}/slow-{n}.dmp", ContentFile(SLOW_MARKER + b"\n"))
            upload = Upload.objects.create(
                case=case, uploaded_by=self.customer, filename=f"slow-{n}.dmp", size=19, offset=19,
                sha256="0" * 64, state=Upload.State.STORED, storage_name=name,
            )  # fmt: skip
            ids.append(queueing.job_queue_for_upload(upload=upload).pk)
        return ids

    def count(self, scenario: str, job_ids: list[int], events: list, took: float, note: str = "") -> Figures:
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
        seen = mail_subjects(self.mail_dir)
        deliveries = list(EmailDelivery.objects.filter(event__in=events, to=self.engineer.email))
        sent = len(
            {d.event_id for d in deliveries if d.state == EmailDelivery.State.SENT and seen[d.subject]}
        )
        expected = Counter(d.subject for d in deliveries)
        twice = sum(max(0, seen[subject] - n) for subject, n in expected.items())
        return Figures(scenario, len(job_ids), done, duplicated, len(events), sent, twice, took, note)


def finished(job_ids: list[int]) -> bool:
    states = AnalysisJob.objects.filter(pk__in=job_ids).values_list("state", flat=True)
    return all(state in ("done", "failed") for state in states)


def wait_until(condition: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.25)
    return False


def _a_job_runs(jobs: list[int]) -> None:
    wait_for(lambda: AnalysisJob.objects.filter(pk__in=jobs, state="running").exists(), 30, "a job")
    time.sleep(1)  # well inside the parse, not at its first line


def pool_process_killed(site: Site) -> Figures:
    """1. A pool process killed mid-job."""
    jobs = site.slow_jobs(site.new_case("pool kill"), site.args.jobs)
    _a_job_runs(jobs)
    killed = time.monotonic()
    site.worker.kill_pool_process()
    wait_until(lambda: finished(jobs), LIMIT)
    return site.count("pool process SIGKILL", jobs, [], time.monotonic() - killed, "from the kill")


def whole_worker_killed(site: Site) -> Figures:
    """2. The whole worker killed mid-job, a replacement started 1 s later."""
    jobs = site.slow_jobs(site.new_case("worker kill"), site.args.jobs)
    _a_job_runs(jobs)
    killed = time.monotonic()
    site.worker.kill_all()
    time.sleep(1)  # the machine is down for a second
    replaced = time.monotonic()
    site.new_worker()
    wait_until(lambda: finished(jobs), LIMIT)
    end = time.monotonic()
    note = f"from the replacement's start ({end - killed:.1f} s from the kill)"
    return site.count("whole worker SIGKILL", jobs, [], end - replaced, note)


def _signed_in_browser(site: Site) -> requests.Session:
    """A customer in the portal's pages, signed in before the outage."""
    browser = requests.Session()
    browser.get(f"{site.base}/accounts/login/", timeout=30)
    browser.post(
        f"{site.base}/accounts/login/",
        data={"username": "alice", "password": "x", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
        timeout=30,
    )
    return browser


def _uploads_and_messages(site: Site, case: Case, browser: requests.Session) -> Counter[int]:
    """What customers do while Redis is down: tus uploads, messages, pages; the status codes they get."""
    headers = {"Authorization": f"Token {site.token}", "Tus-Resumable": "1.0.0"}
    answers: Counter[int] = Counter()
    for n in range(site.args.uploads):
        data = f"{X86_OOPS}\nupload {n}\n".encode()
        metadata = "filename " + base64.b64encode(f"dmesg-{n}.txt".encode()).decode()
        created = requests.post(
            f"{site.base}/api/cases/{case.number}/uploads/tus/",
            headers={**headers, "Upload-Length": str(len(data)), "Upload-Metadata": metadata},
            timeout=30,
        )
        answers[created.status_code] += 1
        patched = requests.patch(
            created.headers["Location"],
            data=data,
            headers={**headers, "Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"},
            timeout=30,
        )
        answers[patched.status_code] += 1
    for n in range(site.args.uploads):
        message = requests.post(
            f"{site.base}/api/cases/{case.number}/timeline/",
            headers={"Authorization": f"Token {site.token}"},
            json={"body": f"Any news? ({n})"},
            timeout=30,
        )
        answers[message.status_code] += 1
    for url in ("/cases/", f"/cases/{case.number}/", f"/cases/{case.number}/upload/"):
        answers[browser.get(f"{site.base}{url}", timeout=30, allow_redirects=False).status_code] += 1
    return answers


def redis_down_during_uploads(site: Site) -> Figures:
    """3. Redis stopped while customers upload and write, then restarted empty."""
    case = site.new_case("outage")
    browser = _signed_in_browser(site)
    site.redis.kill()
    started = time.monotonic()
    answers = _uploads_and_messages(site, case, browser)
    time.sleep(max(0.0, site.args.outage - (time.monotonic() - started)))  # the outage lasts --outage s
    jobs = list(AnalysisJob.objects.filter(upload__case=case).values_list("pk", flat=True))
    pending = OutboxMessage.objects.filter(state="pending").count()
    back = site.redis.start()
    events = list(AuditEvent.objects.filter(case=case, action__in=["upload_stored", "message_added"]))

    def all_sent() -> bool:
        return EmailDelivery.objects.filter(event__in=events, state="sent").count() >= len(events)

    wait_until(lambda: finished(jobs) and all_sent(), LIMIT)
    took = time.monotonic() - back
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(answers.items()))
    note = f"from Redis answering again; answers while down {statuses}; {pending} outbox messages waited"
    return site.count("Redis down during uploads", jobs, events, took, note)


def redis_restarted_with_jobs_queued(site: Site) -> Figures:
    """4. Redis restarted empty while jobs wait in it."""
    site.worker.stop()
    jobs = site.slow_jobs(
        site.new_case("restart"), site.args.jobs
    )  # published into Redis; no worker takes them
    time.sleep(1)  # the messages sit in Redis
    site.redis.kill()
    back = site.redis.start()
    site.new_worker()
    wait_until(lambda: finished(jobs), LIMIT)
    took = time.monotonic() - back
    return site.count("Redis restarted empty, jobs queued", jobs, [], took, "from Redis answering")


SCENARIOS = (
    pool_process_killed,
    whole_worker_killed,
    redis_down_during_uploads,
    redis_restarted_with_jobs_queued,
)
