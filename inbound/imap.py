"""Taking mail from an IMAP mailbox, for sites that cannot route mail to the listener.

``INBOUND_IMAP_URL`` is ``imaps://user:password@host[:port]/FOLDER`` (TLS; ``imap://`` is plain, with
``?starttls=1`` to upgrade). Each poll stores every message in the folder through
``inbound_message_receive`` (as the listener does) and only then marks it deleted, so a poll that dies
midway loses nothing and a message taken twice is stored once. A message larger than
INBOUND_SMTP_SIZE_LIMIT is not downloaded: its headers are stored (the sender is answered as for any
message too large) and it stays in the mailbox with the keyword ``$PortalTooLarge``.
"""

from __future__ import annotations

import imaplib
import logging
import re
import ssl
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from django.conf import settings

from inbound.models import InboundMessage
from inbound.receiving import inbound_message_receive

logger = logging.getLogger(__name__)

TOO_LARGE_KEYWORD = "$PortalTooLarge"
BATCH = 100


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str
    folder: str
    tls: bool
    starttls: bool


def mailbox_parse(url: str) -> Mailbox:
    """Read INBOUND_IMAP_URL; a ValueError names what is wrong (never the password)."""
    parts = urlsplit(url)
    if parts.scheme not in {"imap", "imaps"}:
        raise ValueError("INBOUND_IMAP_URL must start with imap:// or imaps://")
    if not parts.hostname or not parts.username:
        raise ValueError("INBOUND_IMAP_URL needs a user and a host: imaps://user:password@host/INBOX")
    tls = parts.scheme == "imaps"
    return Mailbox(
        host=parts.hostname,
        port=parts.port or (993 if tls else 143),
        user=unquote(parts.username),
        password=unquote(parts.password or ""),
        folder=unquote(parts.path.lstrip("/")) or "INBOX",
        tls=tls,
        starttls=parse_qs(parts.query).get("starttls", ["0"])[0] in {"1", "true", "yes"},
    )


@dataclass(frozen=True)
class PollResult:
    stored: int
    duplicates: int
    too_large: int


def _connect(box: Mailbox) -> imaplib.IMAP4:
    if box.tls:
        connection: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            box.host, box.port, ssl_context=ssl.create_default_context(), timeout=60
        )
    else:
        connection = imaplib.IMAP4(box.host, box.port, timeout=60)
        if box.starttls:
            connection.starttls(ssl_context=ssl.create_default_context())
    connection.login(box.user, box.password)
    return connection


def _fetch(connection: imaplib.IMAP4, uid: str, item: str) -> bytes:
    status, data = connection.uid("FETCH", uid, f"({item})")
    if status != "OK":
        raise imaplib.IMAP4.error(f"FETCH {item} failed: {status}")
    for entry in data:
        if isinstance(entry, tuple):
            return bytes(entry[1])
    return b""


def _size(connection: imaplib.IMAP4, uid: str) -> int:
    status, data = connection.uid("FETCH", uid, "(RFC822.SIZE)")
    found = re.search(
        rb"RFC822\.SIZE (\d+)", b" ".join(d if isinstance(d, bytes) else d[0] for d in data if d)
    )
    return int(found.group(1)) if status == "OK" and found else 0


def imap_poll(*, url: str, limit: int = BATCH) -> PollResult:
    """Take up to ``limit`` messages from the mailbox into the portal (see the module docstring)."""
    box = mailbox_parse(url)
    connection = _connect(box)
    stored = duplicates = too_large = 0
    try:
        status, _data = connection.select(f'"{box.folder}"')
        if status != "OK":
            raise imaplib.IMAP4.error(f"cannot open the folder {box.folder!r}")
        status, data = connection.uid("SEARCH", "UNDELETED", "UNKEYWORD", TOO_LARGE_KEYWORD)
        found = data[0].split()[:limit] if status == "OK" and data and data[0] else []
        uids = [uid.decode("ascii") for uid in found]  # message numbers: ASCII digits
        for uid in uids:
            size = _size(connection, uid)
            if size > settings.INBOUND_SMTP_SIZE_LIMIT:
                raw = _fetch(connection, uid, "BODY.PEEK[HEADER]")
                _message, created = inbound_message_receive(
                    raw=raw, via=InboundMessage.Via.IMAP, peer=box.host, size=size
                )
                connection.uid("STORE", uid, "+FLAGS.SILENT", f"({TOO_LARGE_KEYWORD})")
                too_large += 1
                continue
            raw = _fetch(connection, uid, "BODY.PEEK[]")
            _message, created = inbound_message_receive(raw=raw, via=InboundMessage.Via.IMAP, peer=box.host)
            stored += created
            duplicates += not created
            # Only now, with the message stored and its task queued: a crash before this takes it again.
            connection.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
        connection.expunge()
    finally:
        try:
            connection.logout()
        except (imaplib.IMAP4.error, OSError):
            logger.info("IMAP logout from %s failed", box.host)
    return PollResult(stored=stored, duplicates=duplicates, too_large=too_large)
