"""Bounded little-endian reads for the binary format parsers: out of range gives ``None``, never raises."""

from __future__ import annotations

import mmap
import struct
from datetime import UTC, datetime, timedelta

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
# Unused DUMP_HEADER slots hold the "PAGE" fill pattern.
PAGE_FILL32 = 0x45474150
PAGE_FILL64 = 0x4547415045474150


# Parsers read from bytes or a read-only memory map alike.
Buffer = bytes | bytearray | memoryview | mmap.mmap


class ParseError(Exception):
    """A file that cannot be parsed; the message is shown to users as is."""


def u16(buf: Buffer, offset: int) -> int | None:
    if offset < 0 or offset + 2 > len(buf):
        return None
    return int(struct.unpack_from("<H", buf, offset)[0])


def u32(buf: Buffer, offset: int) -> int | None:
    if offset < 0 or offset + 4 > len(buf):
        return None
    return int(struct.unpack_from("<I", buf, offset)[0])


def u64(buf: Buffer, offset: int) -> int | None:
    if offset < 0 or offset + 8 > len(buf):
        return None
    return int(struct.unpack_from("<Q", buf, offset)[0])


def uptr(buf: Buffer, offset: int, bits: int) -> int | None:
    return u64(buf, offset) if bits == 64 else u32(buf, offset)


def span(buf: Buffer, offset: int, length: int) -> bytes | None:
    """``length`` bytes at ``offset`` if they are all inside ``buf``."""
    if offset < 0 or length < 0 or offset + length > len(buf):
        return None
    return bytes(buf[offset : offset + length])


def hex_or_none(value: int | None) -> str | None:
    return None if value is None else f"0x{value:x}"


def filetime_to_iso(value: int | None) -> str | None:
    """A FILETIME (100 ns since 1601) as ISO UTC ``...Z``; implausible values (before 1990, after 2100) -> None."""
    if value is None or value in (0, PAGE_FILL64):
        return None
    try:
        moment = _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    if not 1990 <= moment.year <= 2100:
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_to_iso(value: int | None) -> str | None:
    if not value:
        return None
    moment = datetime.fromtimestamp(value, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def utf16_string(buf: Buffer, offset: int, max_chars: int = 1024) -> str | None:
    """A length-prefixed (u32 count) UTF-16LE string; the count is in characters or bytes per caller."""
    count = u32(buf, offset)
    if count is None or count > max_chars:
        return None
    raw = span(buf, offset + 4, count * 2)
    if raw is None:
        return None
    return raw.decode("utf-16-le", errors="replace").rstrip("\x00")
