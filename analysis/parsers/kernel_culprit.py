"""The culprit driver of a kernel dump (analysis-spec B.1): D3 the driver Windows named (BrokenDriver) >
D2 the module holding the fault address > D4 the first third-party module on the stack; nt and hal are
never "the driver".
"""

from __future__ import annotations

from typing import Any

from analysis.parsers._binary import hex_or_none
from analysis.parsers.kernel_layout import DUMP_TYPES, Header, Triage, context_pc
from analysis.tables import drivers, knowledge


def _fault_address(h: Header, t: Triage | None) -> tuple[int | None, str | None]:
    """The faulting instruction address and where it was read (analysis-spec B.1 D2)."""
    if h.code is not None:
        index = knowledge.INSTRUCTION_PARAM.get(knowledge.base_code(h.code))
        if index is not None and h.params[index]:
            return h.params[index], f"P{index + 1}"
    if t is not None and t.exception_pc:
        return t.exception_pc, "exception context"
    pc = context_pc(h.context, h.architecture)
    return (pc, "header context") if pc else (None, None)


def culprit(h: Header, t: Triage | None) -> tuple[str | None, str, dict[str, Any]]:
    """``(culprit_module, culprit_reason, facts)`` by D3 > D2 > D4; nt/hal are never "the driver"."""
    facts: dict[str, Any] = {}
    if t is None:
        kind = DUMP_TYPES.get(h.dump_type or 0, "unknown type")
        return (
            None,
            f"no driver list in a {kind} dump header; run !analyze -v in WinDbg for the culprit",
            facts,
        )
    if t.broken_driver:
        facts["culprit_basis"] = "broken_driver"
        return t.broken_driver, "driver named by Windows at the bug check (BrokenDriver)", facts
    address, source = _fault_address(h, t)
    third_party = [f.module for f in t.stack if f.module and _origin(f.module, t) == "third_party"]
    first_third = third_party[0] if third_party else None
    if address is not None:
        found = _at_address(address, source, t, first_third, facts)
        if found is not None:
            return (*found, facts)
    if first_third:
        facts["culprit_basis"] = "stack_scan"
        return first_third, "first third-party module on the stack (stack scan, weak evidence)", facts
    return (
        None,
        "culprit not found: no fault address in a loaded driver and no third-party module on the stack",
        facts,
    )


def _at_address(
    address: int, source: str | None, t: Triage, first_third: str | None, facts: dict[str, Any]
) -> tuple[str | None, str] | None:
    """D2: the culprit and reason the fault address gives (into ``facts`` how), or None to go on to D4."""
    facts["fault_address"], facts["fault_address_source"] = hex_or_none(address), source
    hit = t.owner(address)
    if hit is not None:
        name, delta = hit
        where = f"{name}+0x{delta:x}"
        facts["fault_module"] = where
        if not drivers.is_windows_kernel(name):
            facts["culprit_basis"] = "fault_address"
            origin = "a Windows inbox driver" if _origin(name, t) == "microsoft" else "a third-party driver"
            reason = f"fault address {hex_or_none(address)} ({source}) is in {where}, {origin}"
            if first_third and first_third != name:
                reason += f"; third-party {first_third} is also on the stack"
            return name, reason
        if first_third:
            facts["culprit_basis"] = "stack_scan"
            return (
                first_third,
                (
                    f"fault inside Windows ({where}); first third-party module on the stack is "
                    f"{first_third} (stack scan, weak evidence)"
                ),
            )
        return None, f"fault inside Windows ({where}); culprit not on the stack"
    unloaded = _unloaded_owner(address, t)
    if unloaded:
        facts["culprit_basis"] = "unloaded_driver"
        return (
            unloaded,
            f"fault address {hex_or_none(address)} is in {unloaded}, a driver already unloaded",
        )
    if t.ranges:
        return (
            None,
            (
                f"fault address {hex_or_none(address)} ({source}) is in no loaded module: "
                "wild address, memory corruption suspected"
            ),
        )
    return None


def _origin(name: str, t: Triage) -> str:
    stamp = next((m.timestamp for m in t.modules if m.name == name), None)
    return drivers.classify_module(name, stamp)[0]


def _unloaded_owner(address: int, t: Triage) -> str | None:
    for module in t.unloaded:
        base = int(module.base, 16) if module.base else None
        if base is not None and module.size and base <= address < base + module.size:
            return module.name
    return None
