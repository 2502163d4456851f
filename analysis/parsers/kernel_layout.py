"""What a Windows kernel dump's header and triage data say, as read by analysis.parsers.kernel_dump:
the dump types and machines, the header's fields and the triage block's drivers, stack and process.

Reference: the DUMP_HEADER64/32 layouts in analysis-spec section 1.1 and winnt.h's CONTEXT records.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from analysis.parsers._binary import u32, u64
from analysis.parsers.result import Frame, Module

DUMP_TYPES = {
    1: "full",
    2: "kernel (summary)",
    3: "header only",
    4: "triage (minidump)",
    5: "bitmap full",
    6: "bitmap kernel",
    7: "automatic",
    8: "kernel memory (RDMP)",
    9: "kernel and user memory (RDMP)",
    0xA: "complete memory (RDMP)",
}

MACHINES = {0x8664: "x64", 0x14C: "x86", 0xAA64: "arm64", 0x1C4: "arm", 0x200: "ia64"}

# Program counter inside a CONTEXT record, per architecture (winnt.h CONTEXT / ARM64_NT_CONTEXT).
CONTEXT_PC = {"x64": 0xF8, "arm64": 0x108, "x86": 0xB8}

CONTEXT_SIZE = {"x64": 0x4D0, "arm64": 0x390, "x86": 0x2CC}


@dataclass
class Header:
    bits: int
    build: int | None
    major: int | None
    machine: int | None
    processors: int | None
    code: int | None
    params: list[int | None]
    dump_type: int | None
    required_space: int | None
    system_time: int | None
    uptime: int | None
    product_type: int | None
    context: bytes | None

    @property
    def architecture(self) -> str | None:
        return MACHINES.get(self.machine) if self.machine is not None else None


@dataclass
class Triage:
    modules: list[Module] = field(default_factory=list)
    ranges: list[tuple[int, int, str]] = field(default_factory=list)  # (base, end, name), sorted
    unloaded: list[Module] = field(default_factory=list)
    stack: list[Frame] = field(default_factory=list)
    exception_pc: int | None = None
    process_name: str | None = None
    process_name_source: str | None = None
    broken_driver: str | None = None

    def owner(self, address: int | None) -> tuple[str, int] | None:
        if address is None or not self.ranges:
            return None
        index = bisect.bisect_right(self.ranges, (address, 1 << 64, "")) - 1
        if index >= 0:
            base, end, name = self.ranges[index]
            if base <= address < end:
                return name, address - base
        return None


def context_pc(context: bytes | None, arch: str | None) -> int | None:
    if context is None or arch not in CONTEXT_PC:
        return None
    value = u64(context, CONTEXT_PC[arch]) if arch != "x86" else u32(context, CONTEXT_PC[arch])
    return value or None
