"""The text of an e-mail as a person means it: ``format=flowed`` joined (RFC 3676), HTML reduced to safe
text, the quoted history and the signature cut from a reply, the subject without its Re:/Fwd: prefixes.
Plain Python: no Django, Celery or database import (read by inbound.parsing).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

# -- format=flowed (RFC 3676) ------------------------------------------------------------------------------


def flowed_decode(text: str, *, delsp: bool = False) -> str:
    """Join the soft-broken lines of a ``format=flowed`` body back into paragraphs (quote depth kept)."""
    out: list[str] = []
    paragraph: str | None = None
    depth_of_paragraph = 0
    for line in text.split("\n"):
        depth = len(line) - len(line.lstrip(">"))
        body = line[depth:]
        if body.startswith(" "):
            body = body[1:]  # space-stuffing
        flowed = body.endswith(" ") and body != "-- "
        if flowed and delsp:
            body = body[:-1]
        if paragraph is not None and depth != depth_of_paragraph:
            out.append(">" * depth_of_paragraph + (" " if depth_of_paragraph else "") + paragraph)
            paragraph = None
        paragraph = body if paragraph is None else paragraph + body
        depth_of_paragraph = depth
        if not flowed:
            out.append(">" * depth + (" " if depth else "") + paragraph)
            paragraph = None
    if paragraph is not None:
        out.append(">" * depth_of_paragraph + (" " if depth_of_paragraph else "") + paragraph)
    return "\n".join(out)


# -- HTML to safe text ---------------------------------------------------------------------------------------

_BLOCK_TAGS = {
    "p", "div", "br", "li", "ul", "ol", "tr", "table", "blockquote", "pre",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
# Markers real clients put around quoted history: Gmail, Outlook, Thunderbird, Apple Mail, QQ Mail, NetEase.
_QUOTE_CLASSES = {"gmail_quote", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"}
_QUOTE_IDS = {"original-content", "ntes-pcmail-quote", "isreplycontent"}
# Outlook puts the quoted message's header block in this element and the quoted text after it, unmarked.
_HISTORY_IDS = {"divrplyfwdmsg"}


class _TextWriter(HTMLParser):
    """Sanitised HTML to text: blocks become lines, links keep their address, quoted history is marked
    with ``>`` so the reply cutter treats it like a quoted plain-text reply."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.quote_stack: list[tuple[str, bool]] = []
        self.depth = 0
        self.href: list[str] = []
        self.cut = False

    def _newline(self) -> None:
        if self.lines[-1].strip(" >"):
            self.lines.append("")
        else:
            self.lines[-1] = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "") for name, value in attrs}
        classes = set(values.get("class", "").lower().split())
        quote = (
            tag == "blockquote"
            or bool(classes & _QUOTE_CLASSES)
            or values.get("id", "").lower() in _QUOTE_IDS
        )
        if tag in {"div", "blockquote"}:
            self.quote_stack.append((tag, quote))
            if quote:
                self.depth += 1
        if tag == "a":
            self.href.append(values.get("href", ""))
        if tag in _BLOCK_TAGS:
            self._newline()
        if values.get("id", "").lower() in _HISTORY_IDS:
            self.lines[-1] = "-----Original Message-----"
            self.lines.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in {"div", "blockquote"}:
            while self.quote_stack:
                opened, quote = self.quote_stack.pop()
                if quote:
                    self.depth -= 1
                if opened == tag:
                    break
        if tag == "a" and self.href:
            href = self.href.pop()
            if href.startswith(("http://", "https://")) and href not in self.lines[-1]:
                self.lines[-1] += f" <{href}>"
        if tag in _BLOCK_TAGS:
            self._newline()

    def handle_data(self, data: str) -> None:
        text = re.sub(r"\s+", " ", data)
        if not text.strip():
            if self.lines[-1] and not self.lines[-1].endswith(" "):
                self.lines[-1] += " "
            return
        if not self.lines[-1]:
            text = text.lstrip()
            if self.depth:
                self.lines[-1] = "> " * self.depth
        self.lines[-1] += text

    def text(self) -> str:
        # A removed element (a script, an image) leaves the space before it: "Done , the agent".
        lines = [re.sub(r" +([,.;:!?，。；：！？、])", r"\1", line).rstrip() for line in self.lines]
        out: list[str] = []
        for line in lines:
            if line or (out and out[-1]):
                out.append(line)
        return "\n".join(out).strip("\n")


def html_to_text(html: str) -> str:
    """HTML reduced to safe text: the maintained ammonia sanitiser (nh3) drops scripts, styles, event
    handlers and every tag outside a short list first; the text is then read from what is left."""
    safe = nh3.clean(
        html,
        tags=_BLOCK_TAGS | {"a", "span", "b", "i", "strong", "em", "td", "th", "tbody", "thead", "font"},
        attributes={"div": {"class", "id"}, "blockquote": {"class", "id", "type"}, "a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        strip_comments=True,
        link_rel=None,
    )
    writer = _TextWriter()
    writer.feed(safe)
    writer.close()
    return writer.text()


# -- quoted history and signatures ------------------------------------------------------------------------

_SEPARATOR = re.compile(
    r"^\s*-{2,}\s*(original message|original|forwarded message|reply message|原始邮件|原始郵件|原邮件|"
    r"转发邮件|回复邮件)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_WROTE = re.compile(r"^.{0,400}\b(wrote|writes)\s*:\s*$", re.IGNORECASE)
_WROTE_ZH = re.compile(r"^.{0,400}(写道|寫道)\s*[:：]?\s*$")
_WRAPPED_START = re.compile(r"^\s*(on\s|在)", re.IGNORECASE)
_UNDERSCORES = re.compile(r"^\s*_{20,}\s*$")
_HEADER_FROM = re.compile(r"^\s*\*?(from|发件人|寄件者|發件人)\s*\*?\s*[:：]", re.IGNORECASE)
_HEADER_OTHER = re.compile(
    r"^\s*\*?(sent|date|to|cc|subject|发送时间|日期|时间|收件人|抄送|主题|寄件日期|傳送時間|主旨)\s*\*?\s*[:：]",
    re.IGNORECASE,
)
_SIGNATURE_LINES = re.compile(
    r"^\s*(sent from my .{1,40}|get outlook for .{1,30}|sent from (mail|outlook) for .{1,30}|"
    r"发自我的.{1,30}|從我的.{1,20}傳送|从我的.{1,20}发送|发自.{0,20}(邮箱|郵箱|客户端|手机|iphone|ipad).{0,20})\s*$",
    re.IGNORECASE,
)


def _history_start(lines: list[str]) -> tuple[int, bool]:
    """Index of the first line of quoted history and whether it is marked with ``>`` (so that answers
    written between quoted lines can be told apart), or (len(lines), False)."""
    for index, line in enumerate(lines):
        if _SEPARATOR.match(line) or _UNDERSCORES.match(line):
            return index, False
        candidates = [(line, 0)]
        # "On <date>, <name> <address>" wrapped before "wrote:" by a client that breaks long lines.
        if (
            index + 1 < len(lines)
            and _WRAPPED_START.match(line)
            and not lines[index + 1].lstrip().startswith(">")
        ):
            candidates.append((line + " " + lines[index + 1], 1))
        for candidate, extra in candidates:
            if (_WROTE.match(candidate) or _WROTE_ZH.match(candidate)) and not candidate.lstrip().startswith(
                ">"
            ):
                following = [rest for rest in lines[index + 1 + extra :] if rest.strip()]
                quoted = bool(following) and following[0].lstrip().startswith(">")
                return index, quoted
        if _HEADER_FROM.match(line):
            window = lines[index + 1 : index + 5]
            if sum(1 for rest in window if _HEADER_OTHER.match(rest)) >= 2:
                return index, False
    return len(lines), False


def _answers_between_quotes(lines: list[str]) -> bool:
    seen_quote = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(">"):
            seen_quote = True
        elif seen_quote:
            return True
    return False


def signature_cut(text: str) -> str:
    """The text without its signature: from the last ``-- `` line (RFC 3676), or a "sent from my phone"
    line among the last three."""
    lines = text.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if lines[index].rstrip() in {"--", "-- "} or lines[index] == "-- ":
            lines = lines[:index]
            break
    filled = [i for i, line in enumerate(lines) if line.strip()]
    for index in filled[-3:]:
        if _SIGNATURE_LINES.match(lines[index]):
            lines = lines[:index]
            break
    return "\n".join(lines).strip()


def reply_text(text: str) -> str:
    """What the person wrote in a reply: quoted history ("On ... wrote:", "在 ... 写道：", Outlook's
    header block, ``>`` lines) and the signature cut off. Answers written between quoted lines keep the
    whole text: cutting there would lose them."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    start, quoted = _history_start(lines)
    if start < len(lines):
        if quoted and _answers_between_quotes(lines[start + 1 :]):
            return signature_cut("\n".join(lines))
        lines = lines[:start]
    else:
        while lines and (not lines[-1].strip() or lines[-1].lstrip().startswith(">")):
            lines.pop()  # a trailing quote with no header above it
    return signature_cut("\n".join(lines))


_SUBJECT_PREFIX = re.compile(
    r"^\s*((re|fw|fwd|aw|wg|回复|回覆|答复|转发|轉寄|转)\s*[:：]\s*)+", re.IGNORECASE
)


def subject_clean(subject: str) -> str:
    """A subject without reply and forward prefixes (Re:, Fwd:, 回复：, 转发：)."""
    return _SUBJECT_PREFIX.sub("", subject).strip()
