"""The mail parser on bytes alone (no database): Chinese mail as real clients send it, the structures
that break naive readers, quoted history, automatic mail and authentication results."""

from __future__ import annotations

import base64
import quopri
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inbound import mail_text, parsing

ROOT = Path(__file__).resolve().parents[2]
# Characters of GBK outside GB2312 (镕 as in 朱镕基, 啰, 喆): clients still label such text "gb2312".
GBK_ONLY = "镕啰喆"


def b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode()


def foxmail_reply() -> bytes:
    """A reply as Foxmail and Outlook in China send it: GBK labelled gb2312, base64 body, encoded words
    in the subject, the sender's name and the attachment's name."""
    body = f'您好，\r\n转储文件已附上，机器名 {GBK_ONLY}-PC。\r\n\r\n张伟\r\n\r\n------------------ 原始邮件 ------------------\r\n发件人: "Support" <support@example.com>\r\n发送时间: 2023年3月10日(星期五) 下午1:31\r\n收件人: "张伟" <zhang@example.cn>\r\n主题: [CAS-08433-X3V6G7] 请上传日志\r\n\r\n请上传 minidump。\r\n'
    return (
        'From: "=?gb2312?B?' + b64("张伟", "gbk") + '?=" <zhang@example.cn>\r\n'
        "To: <case+x@support.example.com>\r\n"
        "Subject: =?gb2312?B?" + b64(f"回复：蓝屏问题 {GBK_ONLY}", "gbk") + "?=\r\n"
        "Message-ID: <2023031013310001@example.cn>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="----=_NextPart_000_0001"\r\n'
        "\r\n"
        "------=_NextPart_000_0001\r\n"
        'Content-Type: text/plain; charset="gb2312"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n" + b64(body, "gbk") + "\r\n"
        "------=_NextPart_000_0001\r\n"
        'Content-Type: application/octet-stream; name="=?gb2312?B?' + b64("内存转储.dmp", "gbk") + '?="\r\n'
        'Content-Disposition: attachment; filename="=?gb2312?B?' + b64("内存转储.dmp", "gbk") + '?="\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n" + base64.b64encode(b"PAGEDU64" + b"\0" * 64).decode() + "\r\n"
        "------=_NextPart_000_0001--\r\n"
    ).encode("ascii")


def test_gbk_labelled_gb2312_keeps_every_character():
    mail = parsing.mail_parse(foxmail_reply())
    assert mail.from_name == "张伟" and mail.from_address == "zhang@example.cn"
    assert mail.subject == f"回复：蓝屏问题 {GBK_ONLY}"
    assert f"机器名 {GBK_ONLY}-PC" in mail.text
    assert [(a.filename, a.data[:8]) for a in mail.attachments] == [("内存转储.dmp", b"PAGEDU64")]
    assert mail.message_id == "2023031013310001@example.cn"
    assert mail.defects == []


def test_qq_mail_quote_block_is_cut():
    text = mail_text.reply_text(parsing.mail_parse(foxmail_reply()).text)
    assert text.startswith("您好，") and GBK_ONLY in text
    assert "原始邮件" not in text and "请上传 minidump" not in text


def test_gb18030_and_utf8_bodies():
    for charset in ("gb18030", "utf-8"):
        raw = (
            f"From: a@example.cn\r\nSubject: x\r\nContent-Type: text/plain; charset={charset}\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
        ).encode() + f"蓝屏 {GBK_ONLY} 𠀀".encode(charset)
        assert parsing.mail_parse(raw).text == f"蓝屏 {GBK_ONLY} 𠀀"


def test_undeclared_8bit_headers_are_read_as_utf8_or_gbk():
    for charset in ("utf-8", "gbk"):
        raw = f"From: 张伟 <zhang@example.cn>\r\nSubject: 蓝屏 {GBK_ONLY}\r\n\r\nx".encode(charset)
        mail = parsing.mail_parse(raw)
        assert (mail.from_name, mail.subject) == ("张伟", f"蓝屏 {GBK_ONLY}")


def test_quoted_printable_utf8_and_rfc2231_filename():
    body = quopri.encodestring("内存诊断结果：无错误。".encode()).decode()
    raw = (
        "From: a@example.com\r\nSubject: =?utf-8?q?=E8=93=9D=E5=B1=8F?=\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        f"{body}\r\n--b\r\nContent-Type: application/octet-stream\r\n"
        "Content-Disposition: attachment; filename*=utf-8''%E7%B3%BB%E7%BB%9F%E6%97%A5%E5%BF%97.evtx\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nRWxmRmlsZQA=\r\n--b--\r\n"
    ).encode()
    mail = parsing.mail_parse(raw)
    assert mail.subject == "蓝屏"
    assert mail.text == "内存诊断结果：无错误。"
    assert [(a.filename, a.data) for a in mail.attachments] == [("系统日志.evtx", b"ElfFile\0")]


def test_format_flowed_is_joined():
    raw = (
        b"From: a@example.com\r\nContent-Type: text/plain; charset=utf-8; format=flowed\r\n\r\n"
        b"The memory diagnostic found no \r\nerrors on the second run.\r\n\r\n> quoted \r\n> line\r\n-- \r\nAlice\r\n"
    )
    assert parsing.mail_parse(raw).text == (
        "The memory diagnostic found no errors on the second run.\n\n> quoted line\n-- \nAlice"
    )


def test_format_flowed_delsp():
    text = "蓝屏发生在 \n启动之后。"
    assert mail_text.flowed_decode(text, delsp=True) == "蓝屏发生在启动之后。"


def test_html_only_mail_is_reduced_to_safe_text():
    html = (
        '<html><head><style>p{color:red}</style><script>alert("x")</script></head><body>'
        '<p onclick="steal()">The dump is <b>attached</b>.</p><img src=x onerror="alert(1)">'
        '<p>Details: <a href="https://example.com/kb">KB 123</a> &amp; more</p>'
        '<div class="gmail_quote">On Fri, Support wrote:<blockquote>Please upload it.</blockquote></div>'
        "</body></html>"
    )
    raw = ("From: a@example.com\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + html).encode()
    mail = parsing.mail_parse(raw)
    assert mail.text_from_html
    for hostile in ("alert", "steal", "onerror", "<p", "<img", "<b>", "color:red"):
        assert hostile not in mail.text
    assert "The dump is attached." in mail.text and "KB 123 <https://example.com/kb> & more" in mail.text
    assert (
        mail_text.reply_text(mail.text)
        == "The dump is attached.\nDetails: KB 123 <https://example.com/kb> & more"
    )


def test_outlook_html_reply_header_block_is_cut():
    html = (
        '<div>已经运行了内存诊断。</div><div id="appendonsend"></div><hr>'
        '<div id="divRplyFwdMsg"><b>发件人:</b> Support &lt;s@example.com&gt;<br><b>发送时间:</b> 2023年3月10日'
        "<br><b>收件人:</b> 张伟<br><b>主题:</b> 请运行内存诊断</div><div>请运行 mdsched。</div>"
    )
    text = mail_text.reply_text(mail_text.html_to_text(html))
    assert text == "已经运行了内存诊断。"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Done.\n\nOn Mon, 13 Mar 2023 at 09:12, Wei Zhang <w@example.com> wrote:\n> Please upload", "Done."),
        ("Done.\n\nOn Mon, 13 Mar 2023 at 09:12, Wei Zhang <w@example.com>\nwrote:\n> Please upload", "Done."),
        ("好的。\n\n在 2023年3月10日，下午1:31，Wei <w@example.com> 写道：\n> 请上传", "好的。"),
        ("好的。\n\nWei Zhang <w@example.com> 于2023年3月10日周五 13:31写道：\n> 请上传", "好的。"),
        ("OK\n\n-----Original Message-----\nFrom: Wei\nSent: Friday\nTo: me\nSubject: x\n\nold", "OK"),
        ("OK\n\nFrom: Wei Zhang <w@example.com>\nSent: Friday, 10 March 2023 13:31\nTo: Alice\nSubject: x\n\nold", "OK"),
        ("OK\n\n发件人: Wei\n发送时间: 2023年3月10日\n收件人: 张伟\n主题: x\n\nold", "OK"),
        ("OK\n________________________________\nFrom: Wei\nold", "OK"),
        ("Thanks\n\n> a trailing quote\n> without a header", "Thanks"),
        ("Answer\n\n-- \nAlice Chen\nContoso IT", "Answer"),
        ("Answer\n\nSent from my iPhone", "Answer"),
        ("好的\n\n发自我的iPhone", "好的"),
        ("From: the logs we see a pattern.\nIt repeats.", "From: the logs we see a pattern.\nIt repeats."),
    ],
    ids=[
        "on-wrote", "on-wrote-wrapped", "zh-apple", "zh-gmail", "outlook-separator", "outlook-headers",
        "outlook-zh", "outlook-web", "bare-quote", "signature", "iphone", "iphone-zh", "not-a-header",
    ],
)  # fmt: skip
def test_reply_text_cuts_history_and_signature(text, expected):
    assert mail_text.reply_text(text) == expected


def test_answers_written_between_quoted_lines_are_kept():
    text = "On Mon, Wei wrote:\n> Which build?\n19041\n> Which driver version?\n3.2.1"
    assert mail_text.reply_text(text) == text


def test_subject_prefixes_are_removed():
    assert mail_text.subject_clean("Re: 回复：Fwd: 转发: Blue screen") == "Blue screen"


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("Auto-Submitted: auto-replied\r\n", "auto_submitted"),
        ("Auto-Submitted: auto-generated\r\n", "auto_submitted"),
        ("X-Autoreply: yes\r\n", "autoreply_header"),
        ("X-Autorespond: vacation\r\n", "autoreply_header"),
        ("Precedence: bulk\r\n", "precedence_bulk"),
        ("Precedence: junk\r\n", "precedence_junk"),
        ("Precedence: list\r\n", "precedence_list"),
        ("List-Id: <news.example.com>\r\n", "mailing_list"),
        ("X-Failed-Recipients: a@example.com\r\n", "bounce"),
        ("Subject: Automatic reply: the blue screens\r\n", "autoreply_subject"),
        ("Subject: 自动回复: 蓝屏\r\n", "autoreply_subject"),
        ("Subject: Out of Office: back Monday\r\n", "autoreply_subject"),
    ],
)
def test_automatic_mail_is_recognised(headers, reason):
    raw = ("From: Alice <alice@example.com>\r\n" + headers + "\r\nI am away.").encode()
    assert parsing.mail_parse(raw).auto_reply == reason


def test_auto_submitted_no_is_a_person():
    raw = b"From: alice@example.com\r\nAuto-Submitted: no\r\nSubject: hello\r\n\r\nhi"
    assert parsing.mail_parse(raw).auto_reply == ""


def test_delivery_status_notification_is_a_bounce():
    raw = (
        b"From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=r\r\n\r\n"
        b"--r\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
        b"--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx\r\n\r\n"
        b"Final-Recipient: rfc822; x@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n--r--\r\n"
    )
    assert parsing.mail_parse(raw).auto_reply == "bounce"
    assert parsing.mail_parse(raw.replace(b"delivery-status;", b"disposition-notification;")).auto_reply == (
        "read_receipt"
    )


def test_null_envelope_sender_is_a_bounce():
    raw = b"From: someone@example.com\r\nSubject: hi\r\n\r\nhi"
    assert parsing.mail_parse(raw, envelope_from="<>").auto_reply == "bounce"
    assert parsing.mail_parse(raw, envelope_from="").auto_reply == "bounce"
    assert parsing.mail_parse(raw, envelope_from=None).auto_reply == ""


def test_header_injection_in_the_display_name_stays_one_line():
    # "Evil\r\nBcc: victim@example.com" as an encoded word, in the name and in the subject
    name = base64.b64encode(b"Evil\r\nBcc: victim@example.com").decode()
    raw = (
        f"From: =?utf-8?b?{name}?= <attacker@example.com>\r\n"
        "Subject: =?utf-8?q?hello=0D=0ABcc:_victim@example.com?=\r\n\r\nhi"
    ).encode()
    mail = parsing.mail_parse(raw)
    assert mail.from_address == "attacker@example.com"
    assert "\n" not in mail.from_name and "\r" not in mail.from_name
    assert "\n" not in mail.subject and "\r" not in mail.subject


def test_an_encoded_word_cannot_become_the_address():
    fake = base64.b64encode(b"ceo@example.com").decode()
    raw = f"From: =?utf-8?b?{fake}?= <attacker@evil.example>\r\n\r\nhi".encode()
    assert parsing.mail_parse(raw).from_address == "attacker@evil.example"


def test_zero_byte_part_is_listed_not_attached():
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=empty.dmp\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n\r\n--b--\r\n"
    )
    mail = parsing.mail_parse(raw)
    assert mail.attachments == [] and mail.skipped == [("empty.dmp", "empty")]
    assert mail.text == "see attached"


@pytest.mark.parametrize(
    "raw",
    [
        b"Content-Type: multipart/mixed\r\n\r\n--x\r\nbroken",  # no boundary
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64\r\n",
        b"From: \xff\xfe\r\nSubject: =?bogus-charset?b?////?=\r\n\r\n\xff\xfe",
        b"\x00\x01\x02",
        b"",
        b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xe8\x93\x9d",
    ],
    ids=["no-boundary", "bad-base64", "bad-charset-header", "binary", "empty", "unknown-charset"],
)
def test_malformed_mail_gives_a_result_and_names_the_defects(raw):
    mail = parsing.mail_parse(raw)
    assert isinstance(mail.text, str)
    if raw.startswith(b"Content-Type: multipart/mixed\r\n"):
        assert "NoBoundaryInMultipartDefect" in mail.defects


def test_unknown_charset_falls_back_to_utf8():
    raw = b"Content-Type: text/plain; charset=no-such-charset\r\n\r\n\xe8\x93\x9d\xe5\xb1\x8f"
    assert parsing.mail_parse(raw).text == "蓝屏"


def test_deeply_nested_mail_is_cut_with_a_defect():
    inner = b"Content-Type: text/plain\r\n\r\ndeep"
    for depth in range(30):
        inner = (
            f"Content-Type: multipart/mixed; boundary=b{depth}\r\n\r\n--b{depth}\r\n".encode()
            + inner
            + f"\r\n--b{depth}--\r\n".encode()
        )
    mail = parsing.mail_parse(b"From: a@example.com\r\n" + inner)
    assert "too many parts" in mail.defects


def test_forwarded_message_is_an_eml_attachment():
    forwarded = b"From: b@example.com\r\nSubject: the original\r\n\r\noriginal text"
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\nFYI\r\n"
        b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + forwarded + b"\r\n--b--\r\n"
    )
    mail = parsing.mail_parse(raw)
    assert [a.filename for a in mail.attachments] == ["the original.eml"]
    assert b"original text" in mail.attachments[0].data


def test_screenshot_pasted_into_the_html_version_is_kept():
    raw = (
        b"From: a@example.com\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n"
        b"--a\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee the screen\r\n"
        b"--a\r\nContent-Type: multipart/related; boundary=r\r\n\r\n"
        b'--r\r\nContent-Type: text/html\r\n\r\n<p>see the screen</p><img src="cid:s1">\r\n'
        b"--r\r\nContent-Type: image/png; name=bsod.png\r\nContent-ID: <s1>\r\nContent-Disposition: inline; filename=bsod.png\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--r--\r\n--a--\r\n"
    )
    mail = parsing.mail_parse(raw)
    assert mail.text == "see the screen" and not mail.text_from_html
    assert [(a.filename, a.inline, a.content_id) for a in mail.attachments] == [("bsod.png", True, "s1")]


def test_authentication_results_of_our_server_vouch_for_the_sender():
    ours = "mx.support.example.com; spf=pass smtp.mailfrom=alice@contoso.example; dkim=pass header.d=contoso.example"
    assert parsing.sender_authenticated(
        [ours], authserv_id="mx.support.example.com", from_address="alice@contoso.example"
    ) == (True, "spf=pass")


@pytest.mark.parametrize(
    "headers",
    [
        # written by the sender: another server's name
        ["mx.evil.example; dkim=pass header.d=contoso.example"],
        # ours, but nothing passed
        [
            "mx.support.example.com; dkim=fail header.d=contoso.example; spf=softfail smtp.mailfrom=x@evil.example"
        ],
        # ours passed for another domain
        ["mx.support.example.com; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=a@evil.example"],
        # ours on top says fail; a forged "pass" below it (inside the sender's message) does not count
        [
            "mx.support.example.com; dkim=none; spf=fail smtp.mailfrom=a@evil.example",
            "mx.support.example.com; dkim=pass header.d=contoso.example",
        ],
        [],
    ],
    ids=["other-server", "fail", "other-domain", "forged-below", "none"],
)
def test_authentication_results_that_do_not_vouch(headers):
    assert (
        parsing.sender_authenticated(
            headers, authserv_id="mx.support.example.com", from_address="alice@contoso.example"
        )[0]
        is False
    )


def test_dedupe_key_is_the_message_id_or_the_bytes():
    one = b"Message-ID: <a@example.com>\r\nSubject: x\r\n\r\none"
    two = b"Message-ID: <a@example.com>\r\nSubject: y\r\n\r\ntwo"
    assert parsing.dedupe_key(one) == parsing.dedupe_key(two)
    assert parsing.dedupe_key(b"Subject: x\r\n\r\none") != parsing.dedupe_key(b"Subject: x\r\n\r\ntwo")


@given(st.binary(max_size=4000))
def test_fuzz_any_bytes_give_a_result(raw):
    mail = parsing.mail_parse(raw)
    assert isinstance(mail.text, str) and isinstance(mail.attachments, list)
    mail_text.reply_text(mail.text)


@given(st.text(max_size=2000))
def test_fuzz_any_html_gives_text_without_tags(html):
    text = mail_text.html_to_text(html)
    assert "<script" not in text.lower()


def test_parser_imports_no_django():
    code = (
        "import sys, inbound.parsing; sys.exit(1 if any(m.startswith('django') for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


@given(
    charset=st.sampled_from(["gb2312", "gbk", "utf-8", "big5", "no-such", "", "unknown-8bit", "us-ascii"]),
    encoding=st.sampled_from(["base64", "quoted-printable", "8bit", "7bit", "x-uuencode", "bogus"]),
    body=st.binary(max_size=600),
    name=st.text(max_size=40),
    boundary=st.text(alphabet="abc-_=.", max_size=12),
    flowed=st.booleans(),
)
def test_fuzz_mime_structures_give_a_result_and_safe_names(charset, encoding, body, name, boundary, flowed):
    encoded_name = base64.b64encode(name.encode("utf-8", "surrogatepass")).decode()
    raw = (
        (
            f"From: =?utf-8?b?{encoded_name}?= <a@example.com>\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n--{boundary}\r\n'
            f"Content-Type: text/plain; charset={charset}{'; format=flowed' if flowed else ''}\r\n"
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
        ).encode()
        + body
        + (
            f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f'Content-Disposition: attachment; filename="=?utf-8?b?{encoded_name}?="\r\n'
            f"Content-Transfer-Encoding: {encoding}\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    mail = parsing.mail_parse(raw)
    mail_text.reply_text(mail.text)
    for attachment in mail.attachments:
        assert "/" not in attachment.filename and "\\" not in attachment.filename
        assert not any(ch in attachment.filename for ch in "\r\n\x00")
    assert "\n" not in mail.from_name and "\r" not in mail.from_name
