"""Linux kernel oops / BUG / WARNING / panic / lockup text (dmesg, journalctl, vmcore-dmesg.txt) -> crashes.

Reference: the kernel's Documentation/admin-guide/bug-hunting.rst and tainted-kernels.rst and the
report formats listed in ``_lines``; research/analysis-spec.md section F. The faulting function is the
first frame of ``stack`` (the frames that only show the kernel reporting it are left out), the module in
brackets at the fault is ``culprit_module``, and the architecture is named only from explicit evidence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any

from analysis.parsers._textio import parse_text_file
from analysis.parsers.linux_oops import _lines
from analysis.parsers.linux_oops._prefixes import Line, strip_prefixes
from analysis.parsers.result import Crash, Frame, ParseResult

__all__ = ["parse", "parse_text"]

_TAINT_MODULE_FLAGS = {
    "O": "out_of_tree_modules",
    "P": "proprietary_modules",
    "E": "unsigned_modules",
    "C": "staging_modules",
}
_PANIC_MERGE_LINES = 120
# A trap or oops line this close after a headline is that report's oops code, not a new report.
_CODE_MERGE_LINES = 40
_MAX_MODULES = 1000
_MAX_FRAMES = 256


@dataclass
class _Oops:
    title: str
    first: int
    last: int
    line: Line
    ended: bool = False
    in_trace: bool = False
    trace_started: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    process: str | None = None
    location: str | None = None
    address: str | None = None
    link: str | None = None
    arch_evidence: set[str] = field(default_factory=set)
    frames: list[Frame] = field(default_factory=list)
    task_from_title: bool = False


def parse(path: str | os.PathLike[str]) -> ParseResult:
    """Parse a kernel log text holding one or more oopses, BUGs, WARNINGs, lockups or panics; never raises."""
    return parse_text_file(path, "linux_oops", parse_text)


def parse_text(text: str) -> tuple[list[Crash], list[str]]:
    """The crashes in normalised log text, and errors (no crash found)."""
    oopses: list[_Oops] = []
    current: _Oops | None = None
    for index, raw in enumerate(text.split("\n")):
        line = strip_prefixes(raw)
        body = line.text.strip()
        if not body:
            continue
        if _merge_code(current, index, body):
            continue
        if _lines.HEADLINE.match(body):
            current = _start(body, index, line)
            oopses.append(current)
            continue
        oops = _lines.OOPS_CODE.match(body)
        if oops:
            current = _start(body, index, line)
            current.extra["oops_code"] = (oops.group(1) or oops.group(2) or "").strip()
            oopses.append(current)
            continue
        if _lines.PANIC.match(body):
            if (
                current is not None
                and "panic" not in current.extra
                and index - current.last <= _PANIC_MERGE_LINES
                and _lines.PANIC_CONSEQUENCE.search(body)
            ):
                # "Kernel panic - not syncing: Fatal exception" is the end of the report above it; with
                # panic_on_warn the panic comes first and the WARNING's registers and trace follow it.
                current.extra["panic"] = body
                current.ended = "tainted" in current.extra or current.trace_started
            else:
                current = _Oops(title=body, first=index, last=index, line=line)
                current.extra["panic"] = body
                oopses.append(current)
            continue
        if current is not None and not current.ended:
            _feed(current, body)
            current.last = index
    crashes = _same_machine([_finish(oops) for oops in oopses])
    errors = (
        [] if crashes else ["no crash found: no kernel oops, BUG, WARNING, lockup or panic line in the text"]
    )
    return crashes, errors


def _same_machine(crashes: list[Crash]) -> list[Crash]:
    """One log is one machine: a report without register lines takes the architecture the others show."""
    known = {crash.architecture for crash in crashes if crash.architecture}
    if len(known) != 1:
        return crashes
    arch = known.pop()
    return [crash if crash.architecture else replace(crash, architecture=arch) for crash in crashes]


def _start(body: str, index: int, line: Line) -> _Oops:
    oops = _Oops(title=body, first=index, last=index, line=line)
    trap = _lines.TRAP_CODE.match(body)
    if trap and not body.startswith(("BUG:", "Unable", "kernel", "WARNING", "UBSAN", "INFO", "rcu", "CPU")):
        oops.extra["oops_code"] = trap.group(1).strip()
    task = _lines.headline_task(body)
    if task is not None:
        oops.process, oops.extra["pid"] = task[0], task[1]
        if task[2] is not None:
            oops.extra["cpu"] = task[2]
        oops.task_from_title = body.startswith("INFO: task")
    place = _lines.headline_location(body)
    if place is not None:
        function, offset, module = place
        oops.location = f"{function}+{offset}" if offset else function
        oops.extra["fault_function"] = function
        if module:
            oops.extra["fault_module"] = module
    return oops


def _merge_code(current: _Oops | None, index: int, body: str) -> bool:
    """`kernel BUG at ...` is followed by `invalid opcode: 0000 [#1]`, `BUG: unable to handle ...` by
    `Oops: 0002 [#1]`: one report, whose code line comes second."""
    if current is None or "oops_code" in current.extra or index - current.first > _CODE_MERGE_LINES:
        return False
    if current.title.startswith(("WARNING", "UBSAN", "INFO", "rcu", "Kernel panic")):
        return False
    oops = _lines.OOPS_CODE.match(body)
    if oops:
        current.extra["oops_code"] = (oops.group(1) or oops.group(2) or "").strip()
        current.last = index
        return True
    trap = _lines.TRAP_CODE.match(body)
    if (
        trap
        and _lines.HEADLINE.match(body)
        and current.title.startswith(("kernel BUG", "BUG:", "Unable", "CPU"))
    ):
        current.extra["oops_code"] = trap.group(1).strip()
        current.last = index
        return True
    return False


def _feed(oops: _Oops, body: str) -> None:
    if oops.in_trace:
        if _trace_line(oops, body):
            return
        oops.in_trace = False
    if _lines.END_TRACE.match(body):
        oops.ended = True
        return
    trace = _lines.TRACE_START.match(body)
    if trace:
        # Only the first trace is the crashing task's; later ones (other CPUs, lockdep) are context.
        if not oops.trace_started:
            oops.in_trace = oops.trace_started = True
            if trace.group(1):
                _trace_line(oops, trace.group(1).strip())
        return
    for handler in (_cpu_line, _taint_line, _hardware_line, _modules_line, _fault_line):
        if handler(oops, body):
            return


def _trace_line(oops: _Oops, body: str) -> bool:
    if _lines.TRACE_TAG.match(body):
        return True
    parsed = _lines.trace_frame(body)
    if parsed is None:
        return False
    frame, reliable = parsed
    if not reliable:
        # "?" marks a stale return address found on the stack, not part of the unwound chain.
        oops.extra["unreliable_frames"] = oops.extra.get("unreliable_frames", 0) + 1
    elif frame is not None and len(oops.frames) < _MAX_FRAMES:
        oops.frames.append(frame)
    return True


def _cpu_line(oops: _Oops, body: str) -> bool:
    match = _lines.CPU_LINE.match(body)
    if not match:
        return False
    # The first CPU line is the faulting task's; a hung-task report's is the watchdog's own (khungtaskd).
    if oops.task_from_title or "tainted" in oops.extra:
        return True
    cpu, pid, comm, taint, flags, version = match.groups()
    oops.process = oops.process or comm
    oops.extra.setdefault("pid", int(pid))
    oops.extra.setdefault("cpu", int(cpu))
    oops.extra["kernel_version"] = version
    # One column per taint flag, blank when unset: "P           OE" is P, O and E.
    letters = [] if taint == "Not tainted" else [c for c in flags or "" if c != " "]
    oops.extra["tainted"] = " ".join(letters)
    oops.extra["tainted_flags"] = letters
    return True


def _taint_line(oops: _Oops, body: str) -> bool:
    match = _lines.TAINT_NAMES.match(body)
    if not match:
        return False
    letters = re.findall(r"\[([A-Z])\]", match.group(1))
    if not oops.extra.get("tainted_flags"):
        oops.extra["tainted"] = " ".join(letters)
        oops.extra["tainted_flags"] = letters
    return True


def _hardware_line(oops: _Oops, body: str) -> bool:
    match = _lines.HARDWARE.match(body)
    if match:
        oops.extra.setdefault("hardware", match.group(1).strip())
    return match is not None


def _modules_line(oops: _Oops, body: str) -> bool:
    match = _lines.MODULES.match(body)
    if not match:
        return False
    if "modules_linked_in" in oops.extra:
        return True
    names: list[str] = []
    marked: dict[str, list[str]] = {}
    rest = re.sub(r"\[last unloaded: ([^\]]*)\]", "", match.group(1))
    unloaded = re.search(r"\[last unloaded: ([^\]\s]*)\]", match.group(1))
    for token in rest.split()[:_MAX_MODULES]:
        module = _lines.MODULE_TOKEN.match(token)
        if not module:
            continue
        names.append(module.group(1))
        for flag in module.group(2) or "":
            if flag in _TAINT_MODULE_FLAGS:
                marked.setdefault(_TAINT_MODULE_FLAGS[flag], []).append(module.group(1))
    oops.extra["modules_linked_in"] = names
    oops.extra.update(marked)
    if unloaded:
        oops.extra["last_unloaded_module"] = unloaded.group(1)
    return True


def _fault_line(oops: _Oops, body: str) -> bool:
    """Register-dump lines: the faulting location, its address and the module in brackets."""
    found = None if _lines.INLINE.search(body) else _lines.fault_line(body)
    if found is None:
        return False
    oops.arch_evidence |= found.arch
    if found.link:
        oops.extra.setdefault("lr", found.link)
    if found.user_mode:
        return True  # a user-mode RIP further down is the process' own, not the fault
    # The first kernel fault line wins; a headline that names the function (WARNING at, KASAN in) wins too.
    if found.location and oops.location is None:
        oops.location = found.location
    if found.address and oops.address is None:
        oops.address = found.address
    return True


def _architecture(evidence: set[str]) -> str | None:
    for arch in ("x86_64", "x86", "powerpc", "s390", "riscv", "mips"):
        if arch in evidence:
            return arch
    if "arm64" in evidence and "arm" in evidence:
        # "PC is at" is printed by 32-bit ARM and by old arm64 kernels; pstate / 64-bit pc settle it.
        return "arm64" if "pstate" in evidence else "arm"
    for arch in ("arm64", "arm"):
        if arch in evidence:
            return arch
    return None


def _fault_frame(location: str | None) -> Frame | None:
    if not location:
        return None
    match = _lines.LOCATION_RE.search(location)
    if match:
        return Frame(module=match.group(4), symbol=match.group(1), offset=match.group(2))
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_.$]*)(?:\+(0x[0-9a-fA-F]+))?", location.split()[0])
    if match:
        return Frame(module=None, symbol=match.group(1), offset=match.group(2))
    return None


def _stack(oops: _Oops) -> tuple[Frame, ...]:
    frames = list(oops.frames)
    fault = (
        _fault_frame(oops.location)
        if not _lines.is_stall(oops.title) or "soft lockup" in oops.title
        else None
    )
    while (
        frames
        and _lines.is_reporting_frame(frames[0].symbol)
        and (fault is None or frames[0].symbol != fault.symbol)
    ):
        frames.pop(0)
    if fault is not None and (not frames or frames[0].symbol != fault.symbol):
        frames.insert(0, fault)
    return tuple(frames[:_MAX_FRAMES])


def _finish(oops: _Oops) -> Crash:
    extra = dict(oops.extra)
    if oops.title.startswith("Internal error") and re.search(r"\bARM$", oops.title):
        oops.arch_evidence.add("arm")
    if oops.location:
        extra["fault_location"] = oops.location
    if oops.line.uptime:
        extra["uptime_seconds"] = oops.line.uptime
    if oops.line.wall:
        extra["log_time"] = oops.line.wall
    fault = _fault_frame(oops.location)
    culprit = extra.pop("fault_module", None) or (fault.module if fault else None)
    return Crash(
        title=oops.title,
        crash_time=oops.line.iso_time,
        architecture=_architecture(oops.arch_evidence),
        process_name=oops.process,
        exception_address=oops.address,
        culprit_module=culprit,
        culprit_reason=(
            f"the faulting function is in module [{culprit}] (the report's fault line)" if culprit else None
        ),
        stack=_stack(oops),
        extra=extra,
    )
