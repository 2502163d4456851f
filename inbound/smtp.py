"""The SMTP/LMTP listener (aiosmtpd): a process of its own (``manage.py inbound_smtp``; ``make run``
starts it beside the web server and the worker). It only stores what it is given and queues its reading:
parsing and case work happen in the worker, so a hostile message costs the listener nothing but bytes.

What a sending server hears: ``550`` at RCPT for an address that is not ours (no open relay); ``552`` for
a message over INBOUND_SMTP_SIZE_LIMIT (the sender's own server bounces it to them); ``451`` when the
message could not be stored (it tries again later: nothing is lost); ``250`` once the message is stored,
including a message we already had.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from django.conf import settings
from django.db import close_old_connections

from inbound.addresses import is_portal_address
from inbound.models import InboundMessage
from inbound.receiving import inbound_message_receive

logger = logging.getLogger(__name__)


class PortalHandler:
    """aiosmtpd's handler: recipients checked at RCPT, the message stored at the end of DATA."""

    def __init__(self, *, lmtp: bool = False) -> None:
        self.lmtp = lmtp

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not is_portal_address(address):
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer or "")
        try:
            # The ORM is synchronous: run the store in a thread of its own, off the event loop.
            await asyncio.to_thread(
                self._store, raw, envelope.mail_from or "", list(envelope.rcpt_tos), str(peer)
            )
        except Exception:
            logger.exception("could not store a message from %s", envelope.mail_from)
            status = "451 4.3.0 Could not store the message now; try again later"
        else:
            status = "250 2.0.0 OK: stored"
        # LMTP answers once per recipient (RFC 2033).
        return "\r\n".join([status] * len(envelope.rcpt_tos)) if self.lmtp else status

    def _store(self, raw: bytes, mail_from: str, rcpt_tos: list[str], peer: str) -> None:
        close_old_connections()
        try:
            inbound_message_receive(
                raw=raw,
                via=InboundMessage.Via.LMTP if self.lmtp else InboundMessage.Via.SMTP,
                envelope_from=mail_from,
                envelope_to=rcpt_tos,
                peer=peer,
            )
        finally:
            close_old_connections()


class PortalController(Controller):
    """aiosmtpd's threaded controller, speaking SMTP or LMTP."""

    def __init__(self, handler: PortalHandler, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.lmtp = handler.lmtp

    def factory(self) -> SMTP:
        server_class = LMTP if self.lmtp else SMTP
        return server_class(self.handler, **self.SMTP_kwargs)


def listener_start(*, host: str, port: int, lmtp: bool = False) -> PortalController:
    """Start listening on ``host:port`` in a thread of this process; ``.stop()`` ends it."""
    controller = PortalController(
        PortalHandler(lmtp=lmtp),
        hostname=host,
        port=port,
        data_size_limit=settings.INBOUND_SMTP_SIZE_LIMIT,
        enable_SMTPUTF8=True,
        server_hostname=settings.INBOUND_DOMAIN or "localhost",
        ident="support-portal",
    )
    controller.start()
    return controller
