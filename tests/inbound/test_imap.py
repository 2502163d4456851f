"""IMAP polling against a real dovecot (Debian's dovecot-imapd, installed by `make test`), started by the
tests on a free port of 127.0.0.1 with a mailbox of its own."""

from __future__ import annotations

import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cases.models import TimelineEntry
from inbound import addresses
from inbound.imap import TOO_LARGE_KEYWORD, imap_poll, mailbox_parse
from inbound.models import InboundMessage
from inbound.tasks import inbound_imap_poll
from tests.inbound.conftest import SUPPORT, email, free_port, process

DOVECOT = "/usr/sbin/dovecot"
pytestmark = pytest.mark.django_db
USER, PASSWORD = "portal", "mailbox-pw-17"


@dataclass
class Dovecot:
    port: int
    folder: Path

    @property
    def url(self) -> str:
        return f"imap://{USER}:{PASSWORD}@127.0.0.1:{self.port}/INBOX"

    def client(self) -> imaplib.IMAP4:
        connection = imaplib.IMAP4("127.0.0.1", self.port, timeout=10)
        connection.login(USER, PASSWORD)
        connection.select("INBOX")
        return connection

    def append(self, raw: bytes) -> None:
        connection = self.client()
        try:
            status, _ = connection.append("INBOX", None, None, raw)
            assert status == "OK"
        finally:
            connection.logout()

    def uids(self, *criteria: str) -> list[bytes]:
        connection = self.client()
        try:
            status, data = connection.uid("SEARCH", None, *(criteria or ("ALL",)))
            return data[0].split() if data and data[0] else []
        finally:
            connection.logout()


def _dovecot_conf(root: Path, port: int, users: str, mail_uid: int, mail_gid: int) -> str:
    """A dovecot serving IMAP on ``port`` only, with its state, log and one plain-password user under ``root``."""
    return f"""base_dir = {root}/run
state_dir = {root}/state
instance_name = portal-test-{port}
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
{users}passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={root}/home/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""


def _wait_for_imap(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            imaplib.IMAP4("127.0.0.1", port, timeout=2).logout()
            return
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dovecot did not start: {server.stderr.read().decode()}") from None
            time.sleep(0.2)


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.skip("Debian's dovecot-imapd is not installed (make test installs it)")
    root = Path(tempfile.mkdtemp(prefix="portal-dovecot-"))
    root.chmod(0o755)
    (root / "home" / USER).mkdir(parents=True)
    # As root, dovecot drops to a mail user (never uid 0); unprivileged, it runs as the caller throughout.
    if os.getuid() == 0:
        mail_uid, mail_gid, users = 65534, 65534, ""
        shutil.chown(root / "home", 65534, 65534)
        shutil.chown(root / "home" / USER, 65534, 65534)
    else:
        me = pwd.getpwuid(os.getuid()).pw_name
        mail_uid, mail_gid = os.getuid(), os.getgid()
        users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
    port = free_port()
    (root / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    (root / "dovecot.conf").write_text(_dovecot_conf(root, port, users, mail_uid, mail_gid))
    server = subprocess.Popen([DOVECOT, "-F", "-c", str(root / "dovecot.conf")], stderr=subprocess.PIPE)
    try:
        _wait_for_imap(server, port)
        yield Dovecot(port=port, folder=root)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(root, ignore_errors=True)


def test_poll_takes_the_mailbox_in_and_empties_it(dovecot, case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    dovecot.append(email(to=address, body="Uploaded the System log.", message_id="<imap-1@example.com>"))
    dovecot.append(email(to=SUPPORT, subject="Another terminal crashes", message_id="<imap-2@example.com>"))
    result = imap_poll(url=dovecot.url)
    assert (result.stored, result.duplicates) == (2, 0)
    assert dovecot.uids() == []  # deleted and expunged once stored
    reply, request = (
        process(InboundMessage.objects.get(message_id="imap-1@example.com")),
        process(InboundMessage.objects.get(message_id="imap-2@example.com")),
    )
    assert reply.via == "imap" and reply.state == InboundMessage.State.POSTED
    assert TimelineEntry.objects.get(case=case, via="email").body == "Uploaded the System log."
    assert (
        request.state == InboundMessage.State.CASE_OPENED and request.case.title == "Another terminal crashes"
    )


def test_beat_task_polls_the_configured_mailbox(settings, dovecot, customer):
    settings.INBOUND_IMAP_URL = dovecot.url
    dovecot.append(email(to=SUPPORT, message_id="<beat@example.com>"))
    assert inbound_imap_poll() == 1
    assert InboundMessage.objects.get().message_id == "beat@example.com"


def test_a_message_taken_twice_is_stored_once(dovecot, customer):
    raw = email(to=SUPPORT, message_id="<twice@example.com>")
    dovecot.append(raw)
    dovecot.append(raw)
    result = imap_poll(url=dovecot.url)
    assert (result.stored, result.duplicates) == (1, 1)
    assert InboundMessage.objects.count() == 1 and dovecot.uids() == []


def test_a_poll_that_dies_before_deleting_loses_nothing_and_stores_nothing_twice(
    dovecot, customer, monkeypatch
):
    dovecot.append(email(to=SUPPORT, message_id="<crash@example.com>"))
    real_uid = imaplib.IMAP4.uid

    def dies_at_store(self, command, *args):
        if command == "STORE":
            raise imaplib.IMAP4.abort("connection lost")
        return real_uid(self, command, *args)

    monkeypatch.setattr(imaplib.IMAP4, "uid", dies_at_store)
    with pytest.raises(imaplib.IMAP4.abort):
        imap_poll(url=dovecot.url)
    monkeypatch.undo()
    assert InboundMessage.objects.count() == 1 and len(dovecot.uids()) == 1  # stored, still in the mailbox
    assert imap_poll(url=dovecot.url).duplicates == 1
    assert InboundMessage.objects.count() == 1 and dovecot.uids() == []


def test_message_over_the_hard_limit_stays_in_the_mailbox_and_is_answered(
    settings, dovecot, customer, mailoutbox
):
    settings.INBOUND_SMTP_SIZE_LIMIT = 50_000
    dovecot.append(email(to=SUPPORT, message_id="<huge@example.com>", files=[("MEMORY.DMP", b"\0" * 60_000)]))
    result = imap_poll(url=dovecot.url)
    assert result.too_large == 1
    message = process(InboundMessage.objects.get())
    assert message.too_large and message.size > 60_000
    assert (message.state, message.reason) == (InboundMessage.State.REFUSED, InboundMessage.Reason.TOO_LARGE)
    assert [m.to for m in mailoutbox] == [[customer.email]]
    assert len(dovecot.uids("KEYWORD", TOO_LARGE_KEYWORD)) == 1  # kept in the mailbox, marked
    assert imap_poll(url=dovecot.url).too_large == 0  # not taken again


def test_wrong_password_stores_nothing(dovecot):
    with pytest.raises(imaplib.IMAP4.error):
        imap_poll(url=dovecot.url.replace(PASSWORD, "wrong"))
    assert not InboundMessage.objects.exists()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "imaps://u%40x:p%2Fw@mail.example.com/Support%20Inbox",
            ("mail.example.com", 993, "u@x", "p/w", "Support Inbox", True),
        ),
        ("imap://u:p@127.0.0.1:1143", ("127.0.0.1", 1143, "u", "p", "INBOX", False)),
    ],
)
def test_mailbox_url(url, expected):
    box = mailbox_parse(url)
    assert (box.host, box.port, box.user, box.password, box.folder, box.tls) == expected


def test_mailbox_url_errors_never_show_the_password():
    with pytest.raises(ValueError) as error:
        mailbox_parse("pop3://u:secret@host/")
    assert "secret" not in str(error.value)
