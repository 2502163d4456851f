"""Bounded reading and normalising of pasted text (WinDbg output, kernel logs) for the text parsers.

Users paste these texts into tickets, chat and e-mail, so the same output arrives with markdown fences,
HTML entities, quoting prefixes, Windows line ends and odd encodings; the parsers see one clean form.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Callable

from analysis.parsers.result import Crash, Kind, ParseResult

MAX_TEXT_BYTES = 32 * 1024 * 1024

_FENCE = re.compile(r"(?m)^[ \t]*(?:```|~~~)[^\n`]*$")
# Block tags end a line (text after </summary> or <pre> starts a new one); inline tags just vanish.
_HTML_BLOCK_TAG = re.compile(
    r"</?(?:details|summary|pre|p|div|blockquote|li|ul|ol|tr|table|h\d)\b[^<>\n]*>", re.I
)
_HTML_TAG = re.compile(r"</?(?:code|span|tt|kbd|samp|b|i|em|strong|font|td|th|tbody|thead)\b[^<>\n]*>", re.I)
_HTML_BREAK = re.compile(r"<br\s*/?>", re.I)
_ENTITY = re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{1,7}|#x[0-9a-fA-F]{1,6});")
_QUOTE_PREFIX = re.compile(r"(?m)^(?:[ \t]*>[ \t]?)+")
# Invisible marks Windows and web pages put into copied text (LRM before dates, zero-width spaces, BOM).
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\ufeff"), None)


def read_text(path: str | os.PathLike[str]) -> tuple[str, list[str]]:
    """Read at most MAX_TEXT_BYTES of a text file and normalise it; returns (text, errors)."""
    errors: list[str] = []
    with open(path, "rb") as handle:
        data = handle.read(MAX_TEXT_BYTES + 1)
    if len(data) > MAX_TEXT_BYTES:
        data = data[:MAX_TEXT_BYTES]
        errors.append(
            f"text truncated: only the first {MAX_TEXT_BYTES // (1024 * 1024)} MiB were read; "
            "facts after that point are missing"
        )
    return normalise(decode(data)), errors


def decode(data: bytes) -> str:
    """Decode bytes from a BOM, a UTF-16 shape (WinDbg .logopenu), else UTF-8 with replacement."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    sample = data[:4096]
    if len(sample) >= 16 and sample[1::2].count(0) > len(sample) // 4:
        return data[: len(data) // 2 * 2].decode("utf-16-le", errors="replace")
    return data.decode("utf-8", errors="replace")


def normalise(text: str) -> str:
    """One shape for pasted text: LF line ends, no fences, tags, entities, quote prefixes or NULs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = text.translate(_INVISIBLE).replace("\xa0", " ")
    text = _HTML_BREAK.sub("\n", text)
    text = _HTML_BLOCK_TAG.sub("\n", text)
    text = _HTML_TAG.sub("", text)
    if _ENTITY.search(text):
        text = html.unescape(text).replace("\xa0", " ")
    text = _FENCE.sub("", text)
    return _dedent(_QUOTE_PREFIX.sub("", text))


def _dedent(text: str) -> str:
    """Drop the indentation every line shares (a markdown indented code block, an e-mail quote)."""
    lines = text.split("\n")
    widths = [len(line) - len(line.lstrip(" \t")) for line in lines if line.strip()]
    common = min(widths) if widths else 0
    if common == 0:
        return text
    return "\n".join(line[common:] if line.strip() else "" for line in lines)


def hex_value(raw: str | None) -> str | None:
    """'00000000`000000be' or '0xBE' -> '0xbe'; None when it is not a hex number."""
    if raw is None:
        return None
    cleaned = raw.strip().replace("`", "").lower()
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or len(cleaned) > 16 or any(c not in "0123456789abcdef" for c in cleaned):
        return None
    return hex(int(cleaned, 16))


def code_value(raw: str | None) -> str | None:
    """A bug check or exception code as 0x%08x, kept as the source gives it (0x1000007e stays)."""
    value = hex_value(raw)
    if value is None:
        return None
    number = int(value, 16)
    if number > 0xFFFFFFFF:
        # Sign-extended 32-bit codes (ffffffffc0000005) are the same code.
        if number >> 32 == 0xFFFFFFFF:
            number &= 0xFFFFFFFF
        else:
            return None
    return f"0x{number:08x}"


def parse_text_file(
    path: str | os.PathLike[str],
    kind: Kind,
    parse_text: Callable[[str], tuple[list[Crash], list[str]]],
) -> ParseResult:
    """Read a text file and run a text parser on it; never raises (read and parser failures become
    errors on the result)."""
    name = os.path.basename(os.fspath(path))
    try:
        text, errors = read_text(path)
    except OSError as exc:
        return ParseResult(file=name, kind=kind, errors=(f"cannot read the file: {exc}",))
    try:
        crashes, more = parse_text(text)
    except Exception as exc:  # a parser bug must come back as an error, not kill the job
        return ParseResult(file=name, kind=kind, errors=(*errors, f"internal parser error: {exc!r}"))
    return ParseResult(file=name, kind=kind, crashes=tuple(crashes), errors=tuple(errors + more))
