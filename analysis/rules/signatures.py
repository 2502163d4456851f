"""Grouping signatures of a crash (analysis-spec section C, modelled on Socorro's signature generation).

``coarse``: the code plus its subtype parameter (``0x1A/41792``), available for log-only crashes too;
``module``: coarse plus the culprit (``0xBE | windows-kernel``); ``frames``: coarse plus normalised top
frames, skipping the kernel's own fault-handling frames. ``version`` changes whenever the algorithm does,
so stored signatures can be regenerated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from analysis.parsers.result import Crash, Frame
from analysis.tables import drivers, knowledge

SIGNATURE_VERSION = "1"
MAX_FRAMES = 5

# Frames that only say "the kernel handled a fault" (Socorro's irrelevant list, kernel flavour).
IRRELEVANT = frozenset(
    {"nt!kebugcheckex", "nt!kibugcheckdispatch", "nt!kipagefault", "nt!mmaccessfault", "nt!misystemfault",
     "nt!kisystemservicecopyend", "nt!kiexceptiondispatch", "nt!kxswitchkernelstackcallout",
     "nt!rtlpheaphandleerror", "nt!kigeneralprotectionfault", "nt!kiservicelinkage", "nt!kebugcheck2",
     "nt!kibugcheckdebugbreak", "nt!kxpagefault", "nt!kidoublefaultabort"}
)  # fmt: skip
# Frames kept but joined with their caller (Socorro's prefix list).
PREFIX = re.compile(
    r"^(nt!(memcpy|memmove|memset|exfreepool.*|exallocatepool.*|iofcalldriver|iopfcompleterequest"
    r"|rtlcopymemory)|fltmgr!fltp.*|ndis!.*|netio!.*callout.*|wdf01000!.*|storport!.*|dxgkrnl!.*)$"
)
_HEX_NUMBER = re.compile(r"\b(0x)?[0-9a-f]{6,}\b|\b\d+\b")


def coarse(crash: Crash) -> str | None:
    code = knowledge.parse_code(crash.bugcheck_code)
    if code is not None:
        base = knowledge.base_code(code)
        key = f"0x{base:X}"
        index = knowledge.SUBTYPE_CODES.get(base)
        if index is not None and index < len(crash.parameters):
            subtype = knowledge.parse_code(_low32(crash.parameters[index]))
            if subtype is not None:
                key += f"/{subtype:X}"
        return key
    if crash.exception_code:
        value = knowledge.parse_code(crash.exception_code)
        return f"0x{value:08X}" if value is not None else crash.exception_code
    if crash.title:
        # A Linux oops headline without its addresses and numbers.
        text = _HEX_NUMBER.sub("N", crash.title.lower()).strip()
        return text[:80] or None
    return None


def _low32(value: str | None) -> str | None:
    # Subtypes are 32-bit values; x64 dumps may sign-extend them.
    number = knowledge.parse_code(value[-8:] if value and len(value) > 10 else value)
    return None if number is None else hex(number)


def module_part(crash: Crash) -> str:
    if crash.culprit_module:
        return drivers.canonical(crash.culprit_module)
    code = knowledge.parse_code(crash.bugcheck_code)
    if code is not None:
        if knowledge.base_code(code) in knowledge.HARDWARE_CODES:
            return "hardware"
        return "windows-kernel"
    return "unknown"


def _frame_key(frame: Frame) -> str | None:
    if not frame.module:
        return None
    module = drivers.canonical(frame.module)
    return f"{module}!{frame.symbol.lower()}" if frame.symbol else module


def frames(stack: Sequence[Frame]) -> list[str]:
    """Normalised frames: irrelevant ones dropped, repeats of a module collapsed, prefixes joined."""
    keys: list[str] = []
    for frame in stack:
        key = _frame_key(frame)
        if key is None or key in IRRELEVANT:
            continue
        if keys and "!" not in key and keys[-1] == key:
            continue
        keys.append(key)
    chosen: list[str] = []
    for key in keys:
        chosen.append(key)
        if not PREFIX.match(key) or len(chosen) >= MAX_FRAMES:
            break
    return chosen


def compute(crash: Crash) -> dict[str, str]:
    """All signatures of a crash with the version they were computed with."""
    result: dict[str, str] = {}
    key = coarse(crash)
    if key is None:
        return result
    result["coarse"] = key
    result["module"] = f"{key} | {module_part(crash)}"
    chosen = frames(crash.stack)
    if chosen:
        result["frames"] = f"{key} | " + " | ".join(chosen)
    result["version"] = SIGNATURE_VERSION
    return result
