"""Linux kernel oops / BUG / panic text (dmesg, journalctl, vmcore-dmesg.txt) -> crashes.

Reference: the kernel's Documentation/admin-guide/bug-hunting.rst and tainted-kernels.rst (oops layout,
`CPU: .. PID: .. Comm: .. Tainted:` line, taint letters, `Modules linked in:` markers) and
research/analysis-spec.md section F. Architecture is named only from explicit evidence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from analysis.parsers._textio import hex_value, parse_text_file
from analysis.parsers.result import Crash, Frame, ParseResult

__all__ = ["parse", "parse_text"]

# Log prefixes, outermost first: journalctl short / short-iso, dmesg -T, printk caller id, dmesg time.
_JOURNAL = re.compile(r"^\S{3,6}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2}\s+\S+\s+kernel:\s?")
_JOURNAL_ISO = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?\s+\S+\s+kernel:\s?"
)
_DMESG_WALL = re.compile(
    r"^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}\]\s?"
)
_PRIORITY = re.compile(r"^<\d>")
_UPTIME = re.compile(r"^\[\s*(\d+\.\d+)\]\s?")
_CALLER = re.compile(r"^\[\s*[TC]\d+\]\s?")
_BARE_KERNEL = re.compile(r"^kernel:\s?")

_PRIMARY = re.compile(
    r"^(?:(?:NMI )?watchdog: )?BUG: \S.*"
    r"|^Unable to handle kernel \S.*"
    r"|^kernel BUG at \S.*"
    r"|^general protection fault\b.*"
    r"|^(?:divide error|invalid opcode|stack segment|double fault|alignment check|segment not present"
    r"|invalid TSS|bounds|int3)(?:: [0-9a-f]{4})? \[#\d+\].*"
    r"|^kernel tried to execute NX-protected page.*"
)
_OOPS = re.compile(r"^(?:Internal error: )?Oops(?: - [^:]+)?: (.*)$")
_PANIC = re.compile(r"^Kernel panic - not syncing: ?.*")
_TRAP_CODE = re.compile(r"^(?:general protection fault|[a-z ]+?)(?:, [^:]*)?: ([0-9a-f]{4} \[#\d+\].*)$")
_CPU = re.compile(
    r"^CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.*?) (Not tainted|Tainted: ([A-Z ]*?))"
    r"\s+(\d[^\s]*)(?:\s+#.*)?$"
)
_TAINT_NAMES = re.compile(r"^Tainted: ((?:\[[A-Z]\]=\w+(?:, )?)+)$")
_HARDWARE = re.compile(r"^Hardware name: (.+)$")
_MODULES = re.compile(r"^Modules linked in:(.*)$")
_MODULE_TOKEN = re.compile(r"^([A-Za-z0-9_\-]+)(?:\(([A-Z+\-]+)\))?$")
_LOCATION = r"([A-Za-z0-9_.$]+)\+(0x[0-9a-f]+)/(0x[0-9a-f]+)(?:\s+\[([^\]\s]+)\])?"
_RIP = re.compile(r"^(RIP|EIP): (?:[0-9a-f]{4}:)?(?:\[<([0-9a-f]+)>\]\s*)?(?:\[<[0-9a-f]+>\]\s*)?(.*)$")
_EIP_AT = re.compile(r"^EIP is at (.+)$")
_PC_IS_AT = re.compile(r"^PC is at (.+)$")
_LR_IS_AT = re.compile(r"^LR is at (.+)$")
_PC_LINE = re.compile(r"^pc : (?:\[<([0-9a-f]+)>\]|(.+?))(?:\s{2,}lr : .*)?$")
_LR_LINE = re.compile(r"(?:^|\s)lr : (?:\[<[0-9a-f]+>\]|(\S+(?: \[[^\]]+\])?))")
_LOCATION_RE = re.compile(_LOCATION)
_TRACE_START = re.compile(r"^(?:Call Trace:|Call trace:|Backtrace:)\s*(.*)$")
_FRAME = re.compile(rf"^(?:\[<([0-9a-f]+)>\]\s*)?(\?\s+)?{_LOCATION}\s*$")
_ARM_FROM = re.compile(
    r"^\[<([0-9a-f]+)>\] \(([A-Za-z0-9_.$]+)(?:\+(0x[0-9a-f]+)/(0x[0-9a-f]+))?(?: \[([^\]\s]+)\])?\) from "
)
_NEW_ARM_FROM = re.compile(r"^([A-Za-z0-9_.$]+)(?: \[([^\]\s]+)\])? from \S+")
_TRACE_TAG = re.compile(r"^</?(?:IRQ|TASK|NMI|EOI|SOFTIRQ)>$")
_END_TRACE = re.compile(r"^---\[ end (?:trace|Kernel panic)")

_TAINT_MODULE_FLAGS = {
    "O": "out_of_tree_modules",
    "P": "proprietary_modules",
    "E": "unsigned_modules",
    "C": "staging_modules",
}
_PANIC_MERGE_LINES = 120
# Panic reasons that are the consequence of the oops or lockup printed just before them.
_PANIC_CONSEQUENCE = re.compile(
    r"not syncing: (?:Fatal exception|Oops|Attempted to kill|softlockup|hard LOCKUP|hung_task|panic_on_warn"
    r"|Fatal Machine check|Machine check|Kernel stack is corrupted|stack-protector)",
    re.I,
)
_MAX_MODULES = 1000
_MAX_FRAMES = 256


@dataclass
class _Line:
    text: str
    uptime: str | None
    iso_time: str | None
    wall: str | None


@dataclass
class _Oops:
    title: str
    first: int
    last: int
    line: _Line
    ended: bool = False
    in_trace: bool = False
    trace_started: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    process: str | None = None
    location: str | None = None
    address: str | None = None
    culprit: str | None = None
    arch_evidence: set[str] = field(default_factory=set)
    frames: list[Frame] = field(default_factory=list)


def parse(path: str | os.PathLike[str]) -> ParseResult:
    """Parse a kernel log text holding one or more oopses, BUGs or panics; never raises."""
    return parse_text_file(path, "linux_oops", parse_text)


def parse_text(text: str) -> tuple[list[Crash], list[str]]:
    """The crashes in normalised log text, and errors (no crash found)."""
    oopses: list[_Oops] = []
    current: _Oops | None = None
    for index, raw in enumerate(text.split("\n")):
        line = _strip_prefixes(raw)
        body = line.text.strip()
        if not body:
            continue
        if _PRIMARY.match(body):
            current = _Oops(title=body, first=index, last=index, line=line)
            oopses.append(current)
            _trap_code(current, body)
            continue
        oops = _OOPS.match(body)
        if oops:
            if current is not None and "oops_code" not in current.extra and index - current.first <= 12:
                current.extra["oops_code"] = oops.group(1).strip()
                current.last = index
            else:
                current = _Oops(title=body, first=index, last=index, line=line)
                current.extra["oops_code"] = oops.group(1).strip()
                oopses.append(current)
            continue
        if _PANIC.match(body):
            if (
                current is not None
                and "panic" not in current.extra
                and index - current.last <= _PANIC_MERGE_LINES
                and _PANIC_CONSEQUENCE.search(body)
            ):
                # "Kernel panic - not syncing: Fatal exception" is the end of the oops above it.
                current.extra["panic"] = body
                current.ended = True
            else:
                current = _Oops(title=body, first=index, last=index, line=line, ended=False)
                current.extra["panic"] = body
                oopses.append(current)
            continue
        if current is not None and not current.ended:
            _feed(current, line.text, body)
            current.last = index
    crashes = [_finish(oops) for oops in oopses]
    errors = [] if crashes else ["no crash found: no kernel oops, BUG or panic line in the text"]
    return crashes, errors


def _strip_prefixes(raw: str) -> _Line:
    text = _PRIORITY.sub("", raw.rstrip())
    uptime = iso_time = wall = None
    match = _JOURNAL_ISO.match(text)
    if match:
        iso_time = _iso(match.group(1), match.group(2), match.group(3))
        wall = f"{match.group(1)} {match.group(2)}{match.group(3) or ''}"
        text = text[match.end() :]
    else:
        match = _JOURNAL.match(text)
        if match:
            wall = " ".join(match.group(0).split()[:3])
            text = text[match.end() :]
    text = _BARE_KERNEL.sub("", text)
    text = _PRIORITY.sub("", text)
    match = _DMESG_WALL.match(text)
    if match:
        wall = wall or match.group(0).strip()[1:-1]
        text = text[match.end() :]
    match = _UPTIME.match(text)
    if match:
        uptime = match.group(1)
        text = text[match.end() :]
    text = _CALLER.sub("", text)
    return _Line(text=text, uptime=uptime, iso_time=iso_time, wall=wall)


def _iso(day: str, clock: str, zone: str | None) -> str | None:
    if zone is None:
        return None  # a local time without its zone is not a UTC instant
    stamp = f"{day}T{clock}{'+00:00' if zone == 'Z' else zone}"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _trap_code(oops: _Oops, body: str) -> None:
    match = _TRAP_CODE.match(body)
    if match and not body.startswith(("BUG:", "Unable", "kernel")):
        oops.extra["oops_code"] = match.group(1).strip()


def _feed(oops: _Oops, text: str, body: str) -> None:
    if oops.in_trace:
        if _trace_line(oops, body):
            return
        oops.in_trace = False
    if _END_TRACE.match(body):
        oops.ended = True
        return
    trace = _TRACE_START.match(body)
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
    if _TRACE_TAG.match(body):
        return True
    match = _FRAME.match(body)
    if match:
        address, unreliable, symbol, offset, _length, module = match.groups()
        if unreliable:
            # "?" marks a stale return address found on the stack, not part of the unwound chain.
            oops.extra["unreliable_frames"] = oops.extra.get("unreliable_frames", 0) + 1
        elif len(oops.frames) < _MAX_FRAMES:
            oops.frames.append(Frame(module=module, symbol=symbol, offset=offset, address=hex_value(address)))
        return True
    match = _ARM_FROM.match(body)
    if match:
        address, symbol, offset, _length, module = match.groups()
        if len(oops.frames) < _MAX_FRAMES:
            oops.frames.append(Frame(module=module, symbol=symbol, offset=offset, address=hex_value(address)))
        return True
    match = _NEW_ARM_FROM.match(body)
    if match:
        if len(oops.frames) < _MAX_FRAMES:
            oops.frames.append(Frame(module=match.group(2), symbol=match.group(1)))
        return True
    return False


def _cpu_line(oops: _Oops, body: str) -> bool:
    match = _CPU.match(body)
    if not match:
        return False
    if oops.process is None:
        cpu, pid, comm, taint, flags, version = match.groups()
        oops.process = comm
        oops.extra.update({"cpu": int(cpu), "pid": int(pid), "kernel_version": version})
        # One column per taint flag, blank when unset: "P           OE" is P, O and E.
        letters = [] if taint == "Not tainted" else [c for c in flags or "" if c != " "]
        oops.extra["tainted"] = " ".join(letters)
        oops.extra["tainted_flags"] = letters
    return True


def _taint_line(oops: _Oops, body: str) -> bool:
    match = _TAINT_NAMES.match(body)
    if not match:
        return False
    letters = re.findall(r"\[([A-Z])\]", match.group(1))
    if not oops.extra.get("tainted_flags"):
        oops.extra["tainted"] = " ".join(letters)
        oops.extra["tainted_flags"] = letters
    return True


def _hardware_line(oops: _Oops, body: str) -> bool:
    match = _HARDWARE.match(body)
    if match:
        oops.extra.setdefault("hardware", match.group(1).strip())
    return match is not None


def _modules_line(oops: _Oops, body: str) -> bool:
    match = _MODULES.match(body)
    if not match:
        return False
    if "modules_linked_in" in oops.extra:
        return True
    names: list[str] = []
    marked: dict[str, list[str]] = {}
    rest = re.sub(r"\[last unloaded: ([^\]]*)\]", "", match.group(1))
    unloaded = re.search(r"\[last unloaded: ([^\]\s]*)\]", match.group(1))
    for token in rest.split()[:_MAX_MODULES]:
        module = _MODULE_TOKEN.match(token)
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
    """RIP / EIP / PC lines: the faulting location, its address and the module in brackets."""
    rip = _RIP.match(body)
    if rip:
        oops.arch_evidence.add("x86_64" if rip.group(1) == "RIP" else "x86")
        if oops.location is None and oops.address is None:
            location = rip.group(3).split(" EFLAGS:")[0].strip()
            address = rip.group(2)
            if re.fullmatch(r"0x[0-9a-f]+", location):
                address, location = location, ""
            oops.address = hex_value(address)
            _set_location(oops, location or None)
        return True
    for pattern, arch in ((_EIP_AT, "x86"), (_PC_IS_AT, "arm")):
        match = pattern.match(body)
        if match:
            oops.arch_evidence.add(arch)
            _set_location(oops, match.group(1).strip(), replace=oops.location is None)
            return True
    lr_is = _LR_IS_AT.match(body)
    if lr_is:
        oops.extra.setdefault("lr", lr_is.group(1).strip())
        return True
    pc = _PC_LINE.match(body)
    if pc:
        if pc.group(1):
            oops.address = oops.address or hex_value(pc.group(1))
            oops.arch_evidence.add("arm64" if len(pc.group(1)) > 8 else "arm")
        else:
            oops.arch_evidence.add("arm64")
            _set_location(oops, pc.group(2).strip(), replace=oops.location is None)
        lr = _LR_LINE.search(body)
        if lr and lr.group(1):
            oops.extra.setdefault("lr", lr.group(1))
        if "pstate:" in body:
            oops.arch_evidence.update({"arm64", "pstate"})
        elif "psr:" in body:
            oops.arch_evidence.add("arm")
        return True
    if "pstate:" in body:
        oops.arch_evidence.update({"arm64", "pstate"})
    return False


def _set_location(oops: _Oops, location: str | None, replace: bool = True) -> None:
    if not location or not replace:
        return
    oops.location = location
    match = _LOCATION_RE.search(location)
    oops.culprit = match.group(4) if match else None


def _architecture(evidence: set[str]) -> str | None:
    for arch in ("x86_64", "x86"):
        if arch in evidence:
            return arch
    if "arm64" in evidence and "arm" in evidence:
        # "PC is at" is printed by 32-bit ARM and by old arm64 kernels; pstate / 64-bit pc settle it.
        return "arm64" if "pstate" in evidence else "arm"
    for arch in ("arm64", "arm"):
        if arch in evidence:
            return arch
    return None


def _finish(oops: _Oops) -> Crash:
    extra = dict(oops.extra)
    if oops.location:
        extra["fault_location"] = oops.location
    if oops.line.uptime:
        extra["uptime_seconds"] = oops.line.uptime
    if oops.line.wall:
        extra["log_time"] = oops.line.wall
    culprit = oops.culprit
    return Crash(
        title=oops.title,
        crash_time=oops.line.iso_time,
        architecture=_architecture(oops.arch_evidence),
        process_name=oops.process,
        exception_address=oops.address,
        culprit_module=culprit,
        culprit_reason=(
            f"the faulting function is in module [{culprit}] (the oops' RIP/PC line)" if culprit else None
        ),
        stack=tuple(oops.frames),
        extra=extra,
    )
