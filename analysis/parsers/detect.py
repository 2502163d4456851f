"""What a file is, from its content (magic bytes and the first 64 KB), never from its name."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import BinaryIO

from analysis.parsers.result import Kind

SNIFF_BYTES = 64 * 1024

_ARCHIVE_MAGICS = (
    b"PK\x03\x04",  # zip
    b"PK\x05\x06",  # empty zip
    b"PK\x07\x08",  # spanned zip
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",  # gzip (tar.gz)
    b"BZh",
    b"\xfd7zXZ\x00",
)
_WINDBG = re.compile(
    r"!analyze|\bBugCheck\b|\bkd>|BUGCHECK_CODE|BUGCHECK_STR|FAILURE_BUCKET_ID|Bugcheck Analysis"
    r"|\bArg1: [0-9a-fA-F`]+|\bBUGCHECK_P1\b|Exception Analysis|STACK_TEXT:|\bnt!KeBugCheck"
    # What Windows and its tools write about a crash (the windbg_text reader's other forms).
    r"|0x[0-9a-f]{8}\s*\(0x[0-9a-f`]+,\s*0x[0-9a-f`]+,\s*0x[0-9a-f`]+,\s*0x[0-9a-f`]+\)|\bBCCode\s*:"
    r"|Problem Event Name|Faulting application name|Faulting module name|\bStop code\s*:|\bSTOP: 0x"
    r"|BugcheckCode|Bugcheck code [0-9a-f]{8}|ExceptionCode: [0-9a-f]{8}|- code [0-9a-f]{8} \((?:first|!!! second) chance"
    r"|Unhandled exception at 0x|Bug Check Code\s*:|Caused By Driver|probably caused by the following module"
    r"|错误应用程序名称|异常代码|终止代码|停止代码|错误模块名称",
    re.IGNORECASE,
)
_LINUX = re.compile(
    r"\bBUG: |\bOops(?:: |\[#)|Call [Tt]race:|Kernel panic|\bRIP: |Unable to handle kernel|Internal error: "
    r"|\bWARNING: CPU: |\bWARNING: .{0,200}? at \S+\+0x[0-9a-f]+/|kernel BUG at |general protection fault|\bUBSAN: |INFO: task \S+ blocked for more than"
    r"|rcu_\w+ (?:self-)?detected stall|Krnl PSW|\bNIP \[|watchdog: BUG"
)


def _sniff(source: str | os.PathLike[str] | BinaryIO) -> bytes:
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return handle.read(SNIFF_BYTES)
    source.seek(0)
    return source.read(SNIFF_BYTES)


def _as_text(head: bytes) -> str | None:
    """The sniffed bytes as text, or None when they look binary."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return head.decode("utf-16", errors="replace")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head or b"\x00" in head:
        return None
    text = head.decode("utf-8", errors="replace")
    # Mostly printable characters, else binary junk that happens to have no NUL.
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text[:4096])
    return text if printable >= 0.95 * min(len(text), 4096) else None


def kind_of(head: bytes) -> Kind:
    """The kind for the first bytes of a file (pure function, for tests and the upload side)."""
    if head.startswith((b"PAGEDU64", b"PAGEDUMP")):
        return "kernel_dump"
    if head.startswith(b"MDMP"):
        return "user_dump"
    if head.startswith(b"ElfFile\x00"):
        return "evtx"
    if head.startswith(_ARCHIVE_MAGICS) or head[257:262] == b"ustar":
        return "archive"
    text = _as_text(head)
    if text is None:
        return "unknown"
    if _WINDBG.search(text):
        return "windbg_text"
    if _LINUX.search(text):
        return "linux_oops"
    return "unknown"


def detect_kind(source: str | os.PathLike[str] | BinaryIO) -> Kind:
    """Kind of the file at ``source`` (a path or a seekable binary file) by content; reads at most 64 KB.
    Raises OSError if unreadable."""
    return kind_of(_sniff(source))


@dataclass(frozen=True)
class Detection:
    """What a file is, found once where it is stored and passed along: ``kind`` is the parser that reads
    it, ``upload_type`` the coarser type the upload side shows (kernel_dump, user_dump, evtx, text_log,
    archive or other)."""

    kind: Kind
    upload_type: str


def detection_of(head: bytes) -> Detection:
    """The detection for a file's first SNIFF_BYTES (pure function)."""
    kind = kind_of(head)
    if kind in ("kernel_dump", "user_dump", "evtx", "archive"):
        return Detection(kind, kind)
    if kind in ("windbg_text", "linux_oops") or _as_text(head) is not None:
        return Detection(kind, "text_log")
    return Detection(kind, "other")


def detect(source: str | os.PathLike[str] | BinaryIO) -> Detection:
    """The detection of the file at ``source`` (a path or a seekable binary file); reads at most 64 KB.
    Raises OSError if unreadable."""
    return detection_of(_sniff(source))


def detect_upload_type(path: str | os.PathLike[str]) -> str:
    """Upload type stored by the upload side: kernel_dump, user_dump, evtx, text_log, archive or other."""
    return detect(path).upload_type
