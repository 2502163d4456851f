"""``manage.py inbound_smtp``: listen for mail (SMTP, or LMTP with --lmtp) until stopped."""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from inbound.smtp import listener_start


class Command(BaseCommand):
    help = "Listen for mail to the portal's addresses (SMTP or LMTP) and queue each message for the worker."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=settings.INBOUND_SMTP_HOST)
        parser.add_argument("--port", type=int, default=settings.INBOUND_SMTP_PORT)
        parser.add_argument("--lmtp", action="store_true", default=settings.INBOUND_LMTP)

    def handle(self, *args: Any, host: str, port: int, lmtp: bool, **options: Any) -> None:
        if not settings.INBOUND_DOMAIN:
            raise CommandError("INBOUND_DOMAIN is not set: the portal has no addresses to listen for.")
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        controller = listener_start(host=host, port=port, lmtp=lmtp)
        protocol = "LMTP" if lmtp else "SMTP"
        self.stdout.write(
            f"Mail in: {protocol} on {host}:{port} for *@{settings.INBOUND_DOMAIN} "
            f"(support address {settings.INBOUND_SUPPORT_ADDRESS})",
        )
        self.stdout.flush()
        try:
            stop.wait()
        finally:
            controller.stop()
