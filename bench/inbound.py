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
import shutil
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


class Clients:
    """C SMTP connections sending the replies in turn; the latency of every message."""

    def __init__(self, messages: list[bytes], connections: int, sender: str, address: str) -> None:
        self.batches = [messages[i::connections] for i in range(connections)]
        self.sender, self.address = sender, address
        self.latencies: list[float] = []
        self._lock = threading.Lock()

    def _send(self, port: int, batch: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=120) as client:
            for raw in batch:
                start = time.perf_counter()
                client.sendmail(self.sender, [self.address], raw)
                with self._lock:
                    self.latencies.append(time.perf_counter() - start)

    def run(self, port: int) -> float:
        """Seconds to send every message to the listener on ``port``."""
        self.latencies.clear()
        started = time.perf_counter()
        threads = [threading.Thread(target=self._send, args=(port, batch)) for batch in self.batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.perf_counter() - started


def _case_address():  # type: ignore[no-untyped-def]
    """A customer's case and their reply address on it."""
    from accounts.models import Organisation, User
    from cases import services as case_services
    from inbound import addresses

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
    return customer, addresses.reply_address_for(case=case, user=customer)


def _listener(port: int) -> subprocess.Popen[str]:
    """``manage.py inbound_smtp`` on the benchmark's database, once it says it listens."""
    from tests.pipeline.realworker import database_url

    env = {**os.environ, "DATABASE_URL": database_url(), "INBOUND_SMTP_PORT": str(port)}
    listener = subprocess.Popen(
        [sys.executable, "manage.py", "inbound_smtp"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    listener.stdout.readline()  # "Mail in: SMTP on ..."
    return listener


def _print_listener(
    args, size: int, listen_seconds: float, latencies: list[float], baseline_seconds: float
) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from inbound.models import InboundMessage

    stored = InboundMessage.objects.count()
    print(f"Mail in on {connection.vendor}, {args.messages} replies of {size / args.messages / 1e6:.2f} MB "
          f"(a {ATTACHMENT // 1024} KiB attachment, base64), {os.cpu_count()} cores")  # fmt: skip
    print(
        f"  listener ({args.connections} connections): {stored / listen_seconds:.1f} messages/s, "
        f"{size / listen_seconds / 1e6:.1f} MB/s; per message p50 "
        f"{statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms"
    )
    print(
        f"  aiosmtpd alone (its own process, same clients, a handler that keeps nothing): "
        f"{args.messages / baseline_seconds:.1f} messages/s (listener / bare = "
        f"{baseline_seconds / listen_seconds:.2f})"
    )


def _read_all() -> None:
    """The worker's task over every stored message, one after the other, in this process."""
    from inbound import tasks
    from inbound.models import InboundMessage

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    var_dir = _setup()

    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    settings.UPLOAD_CASE_QUOTA = settings.UPLOAD_ORGANISATION_QUOTA = 1024**4
    old_config = setup_databases(verbosity=0, interactive=False)
    listener = None
    try:
        customer, address = _case_address()
        attachment = os.urandom(ATTACHMENT)  # incompressible, as a dump mostly is not: the worst case
        messages = [_reply(address, customer.email, n, attachment) for n in range(args.messages)]
        clients = Clients(messages, args.connections, customer.email, address)
        port = _free_port()
        listener = _listener(port)
        listen_seconds = clients.run(port)
        latencies = sorted(clients.latencies)
        baseline_seconds = _baseline(clients.run)
        size = sum(len(raw) for raw in messages)
        _print_listener(args, size, listen_seconds, latencies, baseline_seconds)
        _read_all()
    finally:
        if listener is not None:
            listener.send_signal(signal.SIGTERM)
            listener.wait(20)
        teardown_databases(old_config, verbosity=0)
        shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
