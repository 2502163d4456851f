"""Reading an e-mail as real clients send it. Plain Python: no Django, Celery or database import, so it
is tested on bytes alone (STYLE.md, "parsing of mail").

References: RFC 5322 (the message), RFC 2045/2046 (MIME), RFC 2047 (encoded words in headers), RFC 2231
(encoded parameters: file names), RFC 3676 (``format=flowed``), RFC 3834 (automatic responses), RFC 3464
(delivery status notifications), RFC 8601 (``Authentication-Results``).

``mail_parse`` never raises: whatever the bytes, it returns what could be read and lists the rest in
``defects``, so the worker always reaches a clear outcome and the raw message stays the reference.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr

from inbound.mail_text import flowed_decode, html_to_text

# Bounds against hostile structure: a message nested or split without end is cut here, with a defect.
MAX_DEPTH = 12
MAX_PARTS = 500
MAX_TEXT_CHARS = 2_000_000

# Chinese clients label GBK text "gb2312" (a subset): decoding with the superset keeps every character.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "chinese": "gb18030",
    "csgb2312": "gb18030",
    "big5": "big5hkscs",
    "ks_c_5601-1987": "cp949",
    "iso-8859-1": "cp1252",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "unknown-8bit": "",
    "x-unknown": "",
}
# Tried in this order when a part names no charset or a wrong one.
_FALLBACK_CHARSETS = ("utf-8", "gb18030", "cp1252")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u2028\u2029]")
_ADDRESS = re.compile(r"^[^@\s<>()\[\]\\,;:\"]{1,64}@[A-Za-z0-9.-]{1,253}$")


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False
    content_id: str = ""


@dataclass
class ParsedMail:
    """What a message says, decoded. ``text`` is the whole body as plain text (from the text part, or the
    HTML part reduced to safe text); ``inbound.mail_text.reply_text`` cuts quoted history and signatures from it."""

    message_id: str = ""
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_name: str = ""
    from_address: str = ""
    recipients: list[str] = field(default_factory=list)
    subject: str = ""
    date: str = ""
    text: str = ""
    text_from_html: bool = False
    attachments: list[Attachment] = field(default_factory=list)
    # Parts not turned into attachments, with why: (file name, reason code).
    skipped: list[tuple[str, str]] = field(default_factory=list)
    auto_reply: str = ""
    authentication_results: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    @property
    def from_domain(self) -> str:
        return self.from_address.rpartition("@")[2]


# -- charsets and headers ------------------------------------------------------------------------------------


def _codec(charset: str | None) -> str:
    name = (charset or "").strip().strip('"').lower()
    name = _CHARSET_ALIASES.get(name, name)
    if not name:
        return ""
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def text_decode(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Bytes of a part or header to text: the declared charset (widened where clients under-declare it),
    then UTF-8, GB18030 and Windows-1252. Returns the text and whether it decoded without replacement."""
    tried: list[str] = []
    for name in (_codec(charset), *_FALLBACK_CHARSETS):
        if not name or name in tried:
            continue
        tried.append(name)
        try:
            return data.decode(name), True
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("utf-8", errors="replace"), False


def _raw_header_bytes(value: str) -> bytes:
    # The parser keeps undeclared 8-bit header bytes as surrogate escapes; take them back as bytes.
    return value.encode("utf-8", errors="surrogateescape")


def _clean_line(text: str) -> str:
    """One header line: no control characters (a CR or LF here would inject a header into any reply)."""
    return " ".join(_CONTROL.sub(" ", text).split())


def raw_header(message: Message, name: str) -> str:
    """The first ``name`` header as it came (undeclared 8-bit bytes kept as surrogate escapes), or ""."""
    values = raw_headers(message, name)
    return values[0] if values else ""


def raw_headers(message: Message, name: str) -> list[str]:
    # raw_items() skips the policy's conversion, which turns 8-bit headers into replacement characters.
    wanted = name.lower()
    return [str(value) for key, value in message.raw_items() if key.lower() == wanted]


def header_text(value: object) -> str:
    """A header as text: RFC 2047 encoded words decoded (with the charset widening above), raw 8-bit
    bytes read as UTF-8 or GB18030, folding and control characters removed."""
    if value is None:
        return ""
    raw = re.sub(r"\r?\n[ \t]", " ", str(value))
    try:
        chunks = decode_header(raw)
    except Exception:  # a broken encoded word: read the header as it stands
        chunks = [(raw, None)]
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(text_decode(_raw_header_bytes(chunk), None)[0])
        else:
            out.append(text_decode(chunk, charset)[0])
    return _clean_line("".join(out))


def _message_ids(value: object) -> list[str]:
    return [mid for mid in re.findall(r"<([^<>\s]{1,250})>", str(value or ""))]


def message_id_of(raw: bytes) -> str:
    """The Message-ID of a raw message without parsing its body (what the listener stores it under)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    message = message_from_bytes(head + b"\n\n", policy=compat32)
    found = _message_ids(raw_header(message, "Message-ID"))
    return found[0] if found else ""


def dedupe_key(raw: bytes, message_id: str | None = None) -> str:
    """What makes two deliveries the same message: its Message-ID, or its bytes when it has none."""
    message_id = message_id_of(raw) if message_id is None else message_id
    if message_id:
        return "mid:" + hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()
    return "raw:" + hashlib.sha256(raw).hexdigest()


def address_clean(address: str) -> str:
    """A bare address, lower case, or "" when it is not one."""
    address = address.strip().strip("<>").lower()
    return address if _ADDRESS.match(address) else ""


def _from(message: Message) -> tuple[str, str]:
    # Split the raw header first, then decode the name: an encoded word must never become an address.
    raw = raw_header(message, "From").replace("\r", " ").replace("\n", " ")
    name, address = parseaddr(raw)
    if not address_clean(address):
        # Some clients encode the whole header, address included, as one encoded word.
        name, address = parseaddr(header_text(raw))
    return header_text(name), address_clean(address)


def _recipients(message: Message) -> list[str]:
    values: list[str] = []
    for header in ("Delivered-To", "X-Original-To", "Envelope-To", "To", "Cc"):
        values += raw_headers(message, header)
    found: list[str] = []
    for _name, address in getaddresses(values):
        clean = address_clean(address)
        if clean and clean not in found:
            found.append(clean)
    return found


# -- automatic responses ------------------------------------------------------------------------------------

_AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto[- ]?reply|autoreply|auto[- ]?response|out of (the )?office( autoreply)?"
    r"|自动回复|自動回覆|自动答复|自動回复|休假回复|不在办公室)\s*[:：]",
    re.IGNORECASE,
)
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@", "mail-daemon@")


def auto_reply_reason(message: Message, *, envelope_from: str | None = None) -> str:
    """Why this message is an automatic one (RFC 3834 and the headers real responders add), or "".
    Such mail is recorded and never posted or answered: answering it is how mail loops start."""
    auto_submitted = str(message.get("Auto-Submitted", "")).strip().lower()
    if auto_submitted and not auto_submitted.startswith("no"):
        return "auto_submitted"
    content_type = message.get_content_type()
    if content_type == "multipart/report":
        report = str(message.get_param("report-type", "") or "").lower()
        return "read_receipt" if report == "disposition-notification" else "bounce"
    if envelope_from is not None and envelope_from.strip("<> ") == "":
        return "bounce"  # the null sender of RFC 5321: only notifications use it
    if message.get("X-Failed-Recipients"):
        return "bounce"
    sender = address_clean(parseaddr(raw_header(message, "From"))[1])
    if sender.startswith(_BOUNCE_SENDERS):
        return "bounce"
    for header in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply"):
        if message.get(header) is not None:
            return "autoreply_header"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in {"bulk", "junk", "list", "auto_reply"}:
        return f"precedence_{precedence}"
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return "mailing_list"
    if _AUTO_SUBJECT.match(header_text(raw_header(message, "Subject"))):
        return "autoreply_subject"
    return ""


# -- Authentication-Results (RFC 8601) ------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthCheck:
    method: str
    result: str
    properties: dict[str, str]


def authentication_results_parse(value: str) -> tuple[str, list[AuthCheck]]:
    """``authserv-id; method=result ptype.property=value; ...`` -> (authserv-id, checks)."""
    text = re.sub(r"\([^()]*\)", " ", _clean_line(value))  # comments
    parts = [part.strip() for part in text.split(";")]
    authserv_id = parts[0].split()[0].lower() if parts and parts[0].split() else ""
    checks: list[AuthCheck] = []
    for part in parts[1:]:
        head = re.match(r"([A-Za-z][\w.-]*)\s*=\s*([A-Za-z]+)", part)
        if not head:
            continue
        properties = {
            f"{ptype.lower()}.{prop.lower()}": val.strip('"').lower()
            for ptype, prop, val in re.findall(r"(\w+)\.([\w.-]+)\s*=\s*(\"[^\"]*\"|[^\s;]+)", part)
        }
        checks.append(AuthCheck(head.group(1).lower(), head.group(2).lower(), properties))
    return authserv_id, checks


def _aligned(domain: str, from_domain: str) -> bool:
    domain, from_domain = domain.strip().lstrip("@").lower(), from_domain.lower()
    if not domain or not from_domain:
        return False
    return domain == from_domain or from_domain.endswith("." + domain) or domain.endswith("." + from_domain)


def sender_authenticated(
    authentication_results: list[str], *, authserv_id: str, from_address: str
) -> tuple[bool, str]:
    """Whether our own mail server vouches for the From address: the topmost ``Authentication-Results``
    header carrying our authserv-id (servers prepend theirs, so one written by the sender sits below it)
    says DMARC passed, or DKIM or SPF passed for the From domain. Returns the verdict and why."""
    if not authserv_id:
        return False, "no INBOUND_AUTHSERV_ID configured"
    from_domain = from_address.rpartition("@")[2]
    for value in authentication_results:
        server, checks = authentication_results_parse(value)
        if server != authserv_id.lower():
            continue
        for check in checks:
            if check.result != "pass":
                continue
            if check.method == "dmarc" and _aligned(
                check.properties.get("header.from", from_domain), from_domain
            ):
                return True, "dmarc=pass"
            if check.method == "dkim" and _aligned(
                check.properties.get("header.d", "") or check.properties.get("header.i", ""), from_domain
            ):
                return True, "dkim=pass"
            if check.method == "spf":
                mailfrom = check.properties.get("smtp.mailfrom", "")
                if _aligned(mailfrom.rpartition("@")[2] or mailfrom, from_domain):
                    return True, "spf=pass"
        return False, "no passing check for " + (from_domain or "the sender")
    return False, f"no Authentication-Results from {authserv_id}"


# -- the walk ------------------------------------------------------------------------------------------------


def _filename(part: Message) -> str:
    name: object
    try:
        name = part.get_filename()
    except Exception:  # an RFC 2231 value in an unknown charset
        param = part.get_param("filename", header="Content-Disposition") or part.get_param("name")
        name = param[2] if isinstance(param, tuple) else param
    if not name:
        return ""
    # Many clients put RFC 2047 encoded words inside the quoted parameter (not what RFC 2231 says).
    return header_text(str(name)).replace("/", "_").replace("\\", "_")


def _part_text(part: Message, payload: bytes, mail: ParsedMail) -> str:
    text, clean = text_decode(payload, part.get_content_charset())
    if not clean:
        mail.defects.append(f"undecodable text in {part.get_content_charset() or 'an undeclared charset'}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if str(part.get_param("format", "") or "").lower() == "flowed":
        text = flowed_decode(text, delsp=str(part.get_param("delsp", "") or "").lower() == "yes")
    return text


@dataclass
class _Walk:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    parts: int = 0
    nameless: int = 0


def _payload(part: Message, mail: ParsedMail) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception as error:  # a transfer encoding that cannot be undone
        mail.defects.append(f"unreadable part: {type(error).__name__}")
        return b""
    return payload if isinstance(payload, bytes) else b""


def _walk(part: Message, mail: ParsedMail, walk: _Walk, depth: int, *, text_wanted: bool = True) -> None:
    walk.parts += 1
    if walk.parts > MAX_PARTS or depth > MAX_DEPTH:
        if "too many parts" not in mail.defects:
            mail.defects.append("too many parts")
        return
    content_type = part.get_content_type()
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    filename = _filename(part)
    if content_type == "message/rfc822" or (part.is_multipart() and content_type.startswith("message/")):
        inner = part.get_payload(0) if isinstance(part.get_payload(), list) else None
        data = inner.as_bytes() if isinstance(inner, Message) else _payload(part, mail)
        name = (
            filename
            or (header_text(raw_header(inner, "Subject")) if isinstance(inner, Message) else "")
            or "message"
        )
        _attach(
            mail, walk, name if name.lower().endswith(".eml") else name + ".eml", "message/rfc822", data, part
        )
        return
    if part.is_multipart():
        payload = part.get_payload()
        if not isinstance(payload, list):
            mail.defects.append("a multipart part without parts")
            return
        children = [child for child in payload if isinstance(child, Message)]
        if content_type == "multipart/alternative":
            # The text comes from one alternative (plain text first); files may hide in any of them (a
            # screenshot pasted into the HTML version lives only there).
            kinds = [child.get_content_type() for child in children]
            chosen = kinds.index("text/plain") if "text/plain" in kinds else len(children) - 1
            for index, child in enumerate(children):
                _walk(child, mail, walk, depth + 1, text_wanted=text_wanted and index == chosen)
            return
        for child in children:
            _walk(child, mail, walk, depth + 1, text_wanted=text_wanted)
        return
    payload = _payload(part, mail)
    is_body = content_type in {"text/plain", "text/html"} and disposition != "attachment" and not filename
    if is_body:
        if text_wanted:
            (walk.plain if content_type == "text/plain" else walk.html).append(
                _part_text(part, payload, mail)
            )
        return
    if not filename:
        walk.nameless += 1
        extension = {"text/plain": ".txt", "text/html": ".html"}.get(content_type, ".bin")
        filename = f"part-{walk.nameless}{extension}"
    _attach(mail, walk, filename, content_type, payload, part)


def _attach(
    mail: ParsedMail, walk: _Walk, filename: str, content_type: str, data: bytes, part: Message
) -> None:
    if not data:
        mail.skipped.append((filename, "empty"))
        return
    disposition = str(part.get("Content-Disposition", "")).split(";")[0].strip().lower()
    content_id = (_message_ids(raw_header(part, "Content-ID")) or [""])[0]
    mail.attachments.append(
        Attachment(
            filename=filename,
            content_type=content_type,
            data=data,
            inline=disposition == "inline" or (not disposition and bool(content_id)),
            content_id=content_id,
        )
    )


def _headers(message: Message, mail: ParsedMail, envelope_from: str | None) -> None:
    mail.message_id = (_message_ids(raw_header(message, "Message-ID")) or [""])[0]
    mail.in_reply_to = _message_ids(raw_header(message, "In-Reply-To"))
    mail.references = _message_ids(raw_header(message, "References"))
    mail.from_name, mail.from_address = _from(message)
    mail.recipients = _recipients(message)
    mail.subject = header_text(raw_header(message, "Subject"))[:500]
    mail.date = header_text(raw_header(message, "Date"))[:100]
    mail.authentication_results = raw_headers(message, "Authentication-Results")
    mail.auto_reply = auto_reply_reason(message, envelope_from=envelope_from)


def _boundary_guessed(message: Message, raw: bytes, mail: ParsedMail) -> Message:
    """A multipart message that forgot its boundary: take the first ``--`` line of the body as the
    boundary (what the sender meant) instead of reading the whole body as one opaque part."""
    if not message.get_content_type().startswith("multipart/") or isinstance(message.get_payload(), list):
        return message
    body = raw.split(b"\r\n\r\n", 1)[-1] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[-1]
    found = re.search(rb"^--([^\s]{1,70})\s*$", body, re.MULTILINE)
    if not found:
        return message
    message.set_param("boundary", found.group(1).decode("ascii", "replace"))
    try:
        guessed = message_from_bytes(message.as_bytes(), policy=compat32)
    except Exception:
        return message
    mail.defects.append("boundary guessed")
    return guessed


def mail_parse(raw: bytes, *, envelope_from: str | None = None) -> ParsedMail:
    """Read a raw RFC 5322 message. Never raises: what cannot be read is listed in ``defects``."""
    mail = ParsedMail()
    try:
        message = message_from_bytes(raw, policy=compat32)
    except Exception as error:  # the email package is lenient; this is a last resort
        mail.defects.append(f"not a message: {type(error).__name__}")
        return mail
    mail.defects += [type(defect).__name__ for defect in message.defects]
    message = _boundary_guessed(message, raw, mail)
    try:
        _headers(message, mail, envelope_from)
    except Exception as error:  # a header the email package cannot hand back: keep what was read
        mail.defects.append(f"unreadable headers: {type(error).__name__}")
    walk = _Walk()
    try:
        _walk(message, mail, walk, 0)
    except Exception as error:  # a structure the email package could not follow: keep what was read
        mail.defects.append(f"unreadable structure: {type(error).__name__}")
    if walk.plain:
        mail.text = "\n".join(walk.plain)
    elif walk.html:
        mail.text = html_to_text("\n".join(walk.html))
        mail.text_from_html = True
    mail.text = _CONTROL.sub("", mail.text.replace("\t", "    ")).strip()[:MAX_TEXT_CHARS]
    return mail


def headers_parse(raw: bytes, *, envelope_from: str | None = None) -> ParsedMail:
    """Only the headers of a message (for one too large to read whole)."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    mail = mail_parse(head + b"\r\n\r\n", envelope_from=envelope_from)
    mail.text = ""
    return mail
