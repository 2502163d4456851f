"""Mail-in benchmark: the aiosmtpd listener and the reading task, messages/s with a 1 MB attachment.

Prints (1) the listener (``manage.py inbound_smtp`` in its own process, as make run and docker-compose
run it) taking N replies over C concurrent SMTP connections: each stored in the uploads storage, its row
committed and its task published before the 250; and (2) the worker's task reading them one after the
other in this process: parse, cut the quote, post the timeline entry through ``timeline_add``, store the
attachment through ``upload_store_bytes`` (SHA-256, type by content, analysis job queued).

Run: ``python bench/inbound.py [--messages 200] [--connections 4]``. Uses a throw-away database (Django's
test database machinery: SQLite file, or ``test_<name>`` on PostgreSQL when DATABASE_URL is set) and a
temporary folder for storage and the broker. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ATTACHMENT = 1024 * 1024


def _setup() -> Path:
    var_dir = Path(tempfile.mkdtemp(prefix="bench-inbound-"))
    os.environ["PORTAL_VAR_DIR"] = str(var_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["INBOUND_DOMAIN"] = "support.example.com"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()
    return var_dir


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _reply(address: str, sender: str, n: int, attachment: bytes) -> bytes:
    message = EmailMessage()
    message["From"] = f"Alice Chen <{sender}>"
    message["To"] = address
    message["Subject"] = f"Re: [CAS] 蓝屏 0xBE #{n}"
    message["Message-ID"] = f"<bench-{n}-{time.monotonic_ns()}@example.com>"
    message.set_content(
        f"第 {n} 次蓝屏的转储文件已附上。\n\nOn Mon, 13 Mar 2023, Support wrote:\n> Please upload the dump.\n"
    )
    message.add_attachment(
        attachment, maintype="application", subtype="octet-stream", filename=f"Mini{n:04}.dmp"
    )
    return message.as_bytes(policy=SMTP)


_BARE_LISTENER = """
import signal, sys, threading
from aiosmtpd.controller import Controller

class Discard:
    async def handle_DATA(self, server, session, envelope):
        return "250 OK"

controller = Controller(Discard(), hostname="127.0.0.1", port=int(sys.argv[1]), data_size_limit=200 * 1024**2)
controller.start()
print("ready", flush=True)
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
stop.wait()
controller.stop()
"""


def _baseline(run_clients) -> float:  # type: ignore[no-untyped-def]
    """The same clients against aiosmtpd in a process of its own with a handler that keeps nothing: what
    SMTP itself costs here."""
    port = _free_port()
    bare = subprocess.Popen(
        [sys.executable, "-c", _BARE_LISTENER, str(port)], stdout=subprocess.PIPE, text=True
    )
    try:
        bare.stdout.readline()
        return run_clients(port)
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    var_dir = _setup()

    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from accounts.models import Organisation, User
    from cases import services as case_services
    from inbound import addresses, tasks
    from inbound.models import InboundMessage
    from tests.pipeline.realworker import database_url

    settings.UPLOAD_CASE_QUOTA = settings.UPLOAD_ORGANISATION_QUOTA = 1024**4
    old_config = setup_databases(verbosity=0, interactive=False)
    listener = None
    try:
        organisation = Organisation.objects.create(name="Contoso", slug="contoso")
        customer = User.objects.create_user(
            "alice", "alice@example.com", "x", role="customer", organisation=organisation
        )
        engineer = User.objects.create_user("engineer", "engineer@example.com", "x", role="engineer")
        case = case_services.case_create(
            actor=engineer,
            organisation=organisation,
            title="Blue screens",
            customer_contact=customer,
            owner=engineer,
        )
        address = addresses.reply_address_for(case=case, user=customer)
        attachment = os.urandom(ATTACHMENT)  # incompressible, as a dump mostly is not: the worst case
        messages = [_reply(address, customer.email, n, attachment) for n in range(args.messages)]
        size = sum(len(raw) for raw in messages)

        port = _free_port()
        env = {**os.environ, "DATABASE_URL": database_url(), "INBOUND_SMTP_PORT": str(port)}
        listener = subprocess.Popen(
            [sys.executable, "manage.py", "inbound_smtp"],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        listener.stdout.readline()  # "Mail in: SMTP on ..."

        latencies: list[float] = []
        lock = threading.Lock()
        chunks = [messages[i :: args.connections] for i in range(args.connections)]

        def send(batch: list[bytes]) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
                for raw in batch:
                    start = time.perf_counter()
                    client.sendmail(customer.email, [address], raw)
                    with lock:
                        latencies.append(time.perf_counter() - start)

        def run_clients(target_port: int) -> float:
            nonlocal port
            port = target_port
            latencies.clear()
            started = time.perf_counter()
            threads = [threading.Thread(target=send, args=(batch,)) for batch in chunks]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            return time.perf_counter() - started

        listen_seconds = run_clients(port)
        stored = InboundMessage.objects.count()
        listener_latencies = sorted(latencies)
        baseline_seconds = _baseline(run_clients)
        print(f"Mail in on {connection.vendor}, {args.messages} replies of {size / args.messages / 1e6:.2f} MB "
              f"(a {ATTACHMENT // 1024} KiB attachment, base64), {os.cpu_count()} cores")  # fmt: skip
        print(
            f"  listener ({args.connections} connections): {stored / listen_seconds:.1f} messages/s, "
            f"{size / listen_seconds / 1e6:.1f} MB/s; per message p50 "
            f"{statistics.median(listener_latencies) * 1000:.0f} ms, "
            f"p95 {listener_latencies[int(0.95 * (len(listener_latencies) - 1))] * 1000:.0f} ms"
        )
        print(
            f"  aiosmtpd alone (its own process, same clients, a handler that keeps nothing): "
            f"{args.messages / baseline_seconds:.1f} messages/s (listener / bare = "
            f"{baseline_seconds / listen_seconds:.2f})"
        )

        ids = list(InboundMessage.objects.order_by("pk").values_list("pk", flat=True))
        started = time.perf_counter()
        for message_id in ids:
            tasks.inbound_process(message_id)
        read_seconds = time.perf_counter() - started
        posted = InboundMessage.objects.filter(state=InboundMessage.State.POSTED).count()
        print(
            f"  reading task (1 process): {posted / read_seconds:.1f} messages/s "
            f"({read_seconds / max(posted, 1) * 1000:.0f} ms each: parse, timeline entry, 1 MB upload stored); "
            f"{posted} of {len(ids)} posted"
        )
    finally:
        if listener is not None:
            listener.send_signal(signal.SIGTERM)
            listener.wait(20)
        teardown_databases(old_config, verbosity=0)
        import shutil

        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
