"""The project's own kernel dumps, built in code from the format description (dump-formats.md section 4):
64-bit and 32-bit headers, ARM64, triage minidumps with drivers and a stack, sparse multi-GiB files and
broken variants.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]

PAGE = b"PAGE"
FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
# Names whose TimeDateStamp is a reproducible-build hash, as on real Windows 10 dumps.
HASH_STAMP = 0x0D8333E6
REAL_STAMP = 0x5F67D60E  # 2020-09-20


def sidecar(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    return data


def filetime(moment: datetime) -> int:
    return int((moment - FILETIME_EPOCH).total_seconds() * 10_000_000)


@dataclass
class KernelDump:
    """Parameters of a built kernel dump; ``build()`` returns its bytes."""

    bits: int = 64
    machine: int = 0x8664
    build_number: int = 19041
    processors: int = 8
    code: int = 0xBE
    params: tuple[int, int, int, int] = (0xFFFFFEC500007038, 0x8A00000004000021, 0xFFFFF582B04EA8D0, 0xB)
    dump_type: int = 4
    crash_time: datetime = datetime(2023, 3, 10, 5, 31, 2, tzinfo=UTC)
    uptime_100ns: int = 36_000 * 10_000_000
    context_pc: int | None = None
    drivers: list[tuple[str, int, int, int]] = field(default_factory=list)  # path, base, size, stamp
    unloaded: list[tuple[str, int, int]] = field(default_factory=list)  # name, start, end
    stack_words: list[int] = field(default_factory=list)
    top_of_stack: int = 0xFFFF850429890000
    process_name: bytes = b"smss.exe"
    image_name_offset: int = 0x5A8
    required_space: int | None = None

    @property
    def header_size(self) -> int:
        return 0x2000 if self.bits == 64 else 0x1000

    def header(self) -> bytearray:
        head = bytearray(PAGE * (self.header_size // 4))
        if self.bits == 64:
            head[0:8] = b"PAGEDU64"
            struct.pack_into("<II", head, 0x08, 0xF, self.build_number)
            struct.pack_into("<II", head, 0x30, self.machine, self.processors)
            struct.pack_into("<I", head, 0x38, self.code)
            struct.pack_into("<4Q", head, 0x40, *self.params)
            head[0x348 : 0x348 + 3000] = bytes(3000)
            if self.context_pc is not None:
                pc_at = 0x348 + (0x108 if self.machine == 0xAA64 else 0xF8)
                struct.pack_into("<Q", head, pc_at, self.context_pc)
            struct.pack_into("<I", head, 0xF98, self.dump_type)
            struct.pack_into("<Q", head, 0xFA0, self.required_space or 0)
            struct.pack_into("<Q", head, 0xFA8, filetime(self.crash_time))
            struct.pack_into("<Q", head, 0x1030, self.uptime_100ns)
        else:
            head[0:8] = b"PAGEDUMP"
            struct.pack_into("<II", head, 0x08, 0xF, self.build_number)
            struct.pack_into("<II", head, 0x20, self.machine, self.processors)
            struct.pack_into("<I", head, 0x28, self.code)
            struct.pack_into("<4I", head, 0x2C, *(p & 0xFFFFFFFF for p in self.params))
            head[0x320 : 0x320 + 1200] = bytes(1200)
            if self.context_pc is not None:
                struct.pack_into("<I", head, 0x320 + 0xB8, self.context_pc)
            struct.pack_into("<I", head, 0xF88, self.dump_type)
            struct.pack_into("<Q", head, 0xFA0, self.required_space or 0)
            struct.pack_into("<Q", head, 0xFB8, self.uptime_100ns)
            struct.pack_into("<Q", head, 0xFC0, filetime(self.crash_time))
        return head

    def build(self) -> bytes:
        head = self.header()
        if self.dump_type != 4:
            return bytes(head)
        ptr = "<Q" if self.bits == 64 else "<I"
        width = 8 if self.bits == 64 else 4
        triage_at = self.header_size
        out = bytearray(head) + bytearray(0x100)
        process_at = len(out)
        process = bytearray(0x800)
        process[self.image_name_offset : self.image_name_offset + len(self.process_name)] = self.process_name
        out += process
        thread_at = len(out)
        out += bytearray(0x100)
        stack_at = len(out)
        for word in self.stack_words:
            out += struct.pack(ptr, word)
        stack_size = len(out) - stack_at
        unloaded_at = len(out)
        out += self._unloaded_list()
        drivers_at = len(out)
        entries, pool = self._driver_list(drivers_at)
        pool_at = drivers_at + len(entries)
        out += entries + pool
        valid_at = len(out)
        out += b"TRGD"
        fields = [
            0, len(out), valid_at, 0x348 if self.bits == 64 else 0x320, 0, 0, unloaded_at, 0, process_at,
            thread_at, stack_at, stack_size, drivers_at, len(self.drivers), pool_at, len(pool), 0, 0xFFFFFFFF,
        ]  # fmt: skip
        struct.pack_into("<18I", out, triage_at, *fields)
        top = self.top_of_stack if self.bits == 64 else self.top_of_stack & 0xFFFFFFFF
        struct.pack_into(ptr, out, triage_at + 0x48, top)
        assert width in (4, 8)
        return bytes(out)

    def _unloaded_list(self) -> bytes:
        """The triage dump's unloaded-drivers list: a count, then fixed-size entries with inline names."""
        out = struct.pack("<I", len(self.unloaded)) + bytes(4 if self.bits == 64 else 0)
        for name, start, end in self.unloaded:
            encoded = name.encode("utf-16-le")
            inline = encoded[:24].ljust(24, b"\x00")
            if self.bits == 64:
                out += (
                    struct.pack("<HHIQ", len(encoded), len(encoded), 0, 0)
                    + inline
                    + struct.pack("<QQ", start, end)
                )
            else:
                out += (
                    struct.pack("<HHI", len(encoded), len(encoded), 0)
                    + inline
                    + struct.pack("<II", start, end)
                )
        return out

    def _driver_list(self, drivers_at: int) -> tuple[bytearray, bytearray]:
        """The loaded-driver entries written at ``drivers_at`` and the string pool right after them."""
        ptr = "<Q" if self.bits == 64 else "<I"
        stride, ldr, base_at, size_at, stamp_at = (
            (0x90, 8, 0x30, 0x40, 0x80) if self.bits == 64 else (0x4C, 4, 0x18, 0x20, 0x44)
        )
        pool_at = drivers_at + stride * len(self.drivers)
        pool = bytearray()
        entries = bytearray()
        for path, base, size, stamp in self.drivers:
            entry = bytearray(stride)
            struct.pack_into("<I", entry, 0, pool_at + len(pool))
            struct.pack_into(ptr, entry, ldr + base_at, base)
            struct.pack_into("<I", entry, ldr + size_at, size)
            struct.pack_into("<I", entry, ldr + stamp_at, stamp)
            entries += entry
            encoded = path.encode("utf-16-le")
            pool += struct.pack("<I", len(path)) + encoded + b"\x00\x00"
        return entries, pool

    def write(self, path: Path) -> Path:
        path.write_bytes(self.build())
        return path


def reference_drivers() -> list[tuple[str, int, int, int]]:
    """A small x64 driver list modelled on the reference case: nt, hal, win32kfull and SfUemIsoSpace."""
    return [
        (r"\SystemRoot\system32\ntoskrnl.exe", 0xFFFFF80073200000, 0x1046000, HASH_STAMP),
        (r"\SystemRoot\system32\hal.dll", 0xFFFFF80072E00000, 0x6000, 0x1A7BE8E9),
        (r"\SystemRoot\System32\win32kfull.sys", 0xFFFFFEDC2CC00000, 0x3B0000, 0xB6D2B7A8),
        (r"\SystemRoot\system32\drivers\SfUemIsoSpace.sys", 0xFFFFF80090000000, 0x20000, REAL_STAMP),
        (r"\SystemRoot\System32\drivers\Ntfs.sys", 0xFFFFF80074000000, 0x2D0000, 0xC4F1F3A2),
    ]
