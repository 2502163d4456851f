"""The lines of a kernel crash report: headlines, the fault location of each architecture, trace frames.

References: Documentation/admin-guide/bug-hunting.rst and tainted-kernels.rst (oops layout, `CPU: ..
PID: .. Comm: .. Tainted:` line), lib/bug.c and kernel/panic.c (`kernel BUG at`, `WARNING: CPU: .. at`),
mm/kasan/report.c, mm/kmsan, kernel/kcsan, mm/kfence (`BUG: KASAN: <type> in <function>`),
kernel/hung_task.c, kernel/rcu/tree_stall.h, kernel/watchdog.c, and each architecture's show_regs /
die (x86 `RIP:`/`EIP:`, arm64 `pc :`, arm `PC is at`/`pc : [<..>]`, powerpc `NIP`, riscv `epc :`,
s390 `Krnl PSW`, mips `epc   :`) and its unwinder's frame format.
"""

from __future__ import annotations

import re

from analysis.parsers._textio import hex_value
from analysis.parsers.result import Frame

# A function location as the kernel prints it: name+offset/length, optionally [module].
LOCATION = r"([A-Za-z0-9_.$]+)\+(0x[0-9a-fA-F]+)/(0x[0-9a-fA-F]+)(?:\s+\[([^\]\s]+)\])?"
LOCATION_RE = re.compile(LOCATION)

HEADLINE = re.compile(
    r"^(?:(?:NMI )?watchdog: )?BUG: \S.*"
    r"|^watchdog: Watchdog detected hard LOCKUP.*"
    r"|^(?:CPU \d+ )?Unable to handle kernel \S.*"
    r"|^kernel BUG at \S.*"
    r"|^(?:Oops: )?general protection fault\b.*"
    r"|^(?:divide error|invalid opcode|stack segment|double fault|alignment check|segment not present"
    r"|invalid TSS|bounds|int3)(?:: [0-9a-f]{4})? \[#\d+\].*"
    r"|^kernel tried to execute NX-protected page.*"
    r"|^WARNING: \S.*"
    r"|^UBSAN: \S.*"
    r"|^INFO: task \S.* blocked for more than \d+ seconds\.?"
    r"|^(?:rcu: )?INFO: rcu_\w+ (?:self-)?detected stalls?\b.*"
    r"|^Internal error: .*\[#\d+\].*"
)
# Syzkaller-style symbolised reports add inlined callers as "func file.c:12 [inline]": not the fault line.
INLINE = re.compile(r"\[inline\]\s*$")
# "Oops: 0000 [#1] SMP", "Internal error: Oops: 96000004 [#1]", "Oops - BUG: 0 [#1]", "Oops[#1]:".
OOPS_CODE = re.compile(r"^(?:Internal error: )?Oops(?: - [^:]+)?: (.*)$|^(Oops\[#\d+\]):?$")
TRAP_CODE = re.compile(
    r"^(?:Oops: )?(?:general protection fault|invalid opcode|divide error|stack segment|double fault"
    r"|alignment check|int3|[a-z ]+?)(?:, [^:]*)?: ([0-9a-f]{4} \[#\d+\].*)$"
)
PANIC = re.compile(r"^Kernel panic - not syncing: ?.*")
# Panic reasons that are the consequence of the report printed just before them.
PANIC_CONSEQUENCE = re.compile(
    r"not syncing: (?:kernel: )?(?:Fatal exception|Oops|Attempted to kill|softlockup|hard LOCKUP|hung_task|panic_on_warn"
    r"|Fatal Machine check|Machine check|Kernel stack is corrupted|stack-protector|RCU Stall|rcu_stall"
    r"|panic_on_oops|Aiee)",
    re.I,
)
CPU_LINE = re.compile(
    r"^CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.*?) (Not tainted|Tainted: ([A-Z ]*?))\s+(\S+)(?:\s+#.*)?$"
)
TAINT_NAMES = re.compile(r"^Tainted: ((?:\[[A-Z]\]=\w+(?:, )?)+)$")
HARDWARE = re.compile(r"^Hardware name: (.+)$")
MODULES = re.compile(r"^Modules linked in:(.*)$")
MODULE_TOKEN = re.compile(r"^([A-Za-z0-9_\-]+)(?:\(([A-Z+\-]+)\))?$")
TRACE_START = re.compile(r"^(?:Call Trace:|Call trace:|Backtrace:|Call Trace)\s*(.*)$")
TRACE_TAG = re.compile(r"^</?(?:IRQ|TASK|NMI|EOI|SOFTIRQ)>$|^-+ interrupt: \w+|^\[<[0-9a-f]+>\] ?$")
END_TRACE = re.compile(r"^---\[ end (?:trace|Kernel panic)")

# Where the report itself says which function faulted.
_WARNING_AT = re.compile(rf"^WARNING: (?:CPU: \d+ PID: \d+ at )?.*? at \S+ {LOCATION}")
_WARNING_AT_OLD = re.compile(rf"^WARNING: at \S+ {LOCATION}")
# 6.x: "WARNING: [condition] file.c:123 at func+0x4c/0xbc0, CPU#0: comm/pid".
_WARNING_AT_NEW = re.compile(rf"^WARNING: .*? at {LOCATION}, CPU#(\d+): (.+)/(\d+)$")
_SANITIZER_IN = re.compile(rf"^BUG: K[A-Z]+: [\w\- ]+? (?:in|on) {LOCATION}")
_SANITIZER_IN_BARE = re.compile(r"^BUG: K[A-Z]+: [\w\- ]+? (?:in|on) ([A-Za-z_][A-Za-z0-9_.$]*)\s*(?:$|/)")
_HUNG_TASK = re.compile(r"^INFO: task (\S.*):(\d+) blocked for more than")
_SOFT_LOCKUP = re.compile(r"soft lockup - CPU#(\d+) stuck for \d+s! \[(.+):(\d+)\]")


def headline_location(title: str) -> tuple[str, str | None, str | None] | None:
    """(function, offset, module) the headline names as the faulting place (WARNING at, KASAN in)."""
    for pattern in (_WARNING_AT_NEW, _WARNING_AT, _WARNING_AT_OLD, _SANITIZER_IN):
        match = pattern.match(title)
        if match:
            return match.group(1), match.group(2), match.group(4)
    bare = _SANITIZER_IN_BARE.match(title)
    if bare:
        return bare.group(1), None, None
    return None


def headline_task(title: str) -> tuple[str, int, int | None] | None:
    """(process, pid, cpu) a hung-task or soft-lockup headline names."""
    match = _HUNG_TASK.match(title)
    if match:
        return match.group(1), int(match.group(2)), None
    match = _SOFT_LOCKUP.search(title)
    if match:
        return match.group(2), int(match.group(3)), int(match.group(1))
    match = _WARNING_AT_NEW.match(title)
    if match:
        return match.group(6), int(match.group(7)), int(match.group(5))
    return None


def is_stall(title: str) -> bool:
    """Reports about a waiting task or CPU rather than a faulting instruction."""
    return title.startswith(("INFO: task", "INFO: rcu", "rcu: INFO")) or "LOCKUP" in title


# -- fault location lines, by architecture ------------------------------------------------------------------

_RIP = re.compile(r"^(RIP|EIP): (?:([0-9a-f]{4}):)?(?:\[<([0-9a-f]+)>\]\s*)?(?:\[<[0-9a-f]+>\]\s*)?(.*)$")
_EIP_AT = re.compile(r"^EIP is at (.+)$")
_PC_IS_AT = re.compile(r"^PC is at (.+)$")
_LR_IS_AT = re.compile(r"^LR is at (.+)$")
_PC_LINE = re.compile(r"^pc : (?:\[<([0-9a-f]+)>\]|(.+?))(?:\s{2,}lr : .*)?$")
_LR_LINE = re.compile(r"(?:^|\s)lr : (?:\[<[0-9a-f]+>\]|(\S+(?: \[[^\]]+\])?))")
_NIP_AT = re.compile(rf"^NIP \[([0-9a-f]+)\] ({LOCATION}|\S+)")
_NIP_REGS = re.compile(r"^NIP:\s+([0-9a-f]+) LR:")
_LR_PPC = re.compile(rf"^LR \[[0-9a-f]+\] ({LOCATION})")
_EPC_RISCV = re.compile(rf"^epc : (?:([0-9a-f]{{8,16}})\s+ra : .*|({LOCATION})\s*)$")
_RA_RISCV = re.compile(rf"^ra : ({LOCATION})")
_EPC_MIPS = re.compile(rf"^epc\s{{2,}}: ([0-9a-f]+)\s*({LOCATION}|\S+)?")
_PSW = re.compile(rf"^Krnl PSW : [0-9a-f]+ ([0-9a-f]+)(?: \(({LOCATION})\))?")


class FaultLine:
    """What one register-dump line says: architecture evidence, fault address and location."""

    def __init__(self) -> None:
        self.arch: set[str] = set()
        self.address: str | None = None
        self.location: str | None = None
        self.link: str | None = None
        self.user_mode = False


def fault_line(body: str) -> FaultLine | None:
    """Parse a register-dump line naming the faulting instruction; None when it is not one."""
    found = FaultLine()
    rip = _RIP.match(body)
    if rip:
        found.arch.add("x86_64" if rip.group(1) == "RIP" else "x86")
        segment = rip.group(2)
        rest = rip.group(4).split(" EFLAGS:")[0].split(" RSP:")[0].split(" SS:ESP")[0].strip()
        # Code segment 0033/0023/0073 is user mode: the process' own instruction, not the kernel's.
        found.user_mode = segment in ("0033", "0023", "0073")
        if re.fullmatch(r"0x[0-9a-f]+", rest):
            found.address = hex_value(rest)
        else:
            found.address = hex_value(rip.group(3))
            found.location = rest or None
        return found
    for pattern, arch in ((_EIP_AT, "x86"), (_PC_IS_AT, "arm")):
        match = pattern.match(body)
        if match:
            found.arch.add(arch)
            found.location = match.group(1).strip()
            return found
    lr_is = _LR_IS_AT.match(body)
    if lr_is:
        found.link = lr_is.group(1).strip()
        return found
    pc = _PC_LINE.match(body)
    if pc:
        if pc.group(1):
            found.address = hex_value(pc.group(1))
            found.arch.add("arm64" if len(pc.group(1)) > 8 else "arm")
        else:
            found.arch.add("arm64")
            found.location = pc.group(2).strip()
        lr = _LR_LINE.search(body)
        if lr and lr.group(1):
            found.link = lr.group(1)
        if "pstate:" in body:
            found.arch.update({"arm64", "pstate"})
        elif "psr:" in body:
            found.arch.add("arm")
        return found
    return _other_arch(body, found)


def _other_arch(body: str, found: FaultLine) -> FaultLine | None:
    nip = _NIP_AT.match(body)
    if nip:
        found.arch.add("powerpc")
        found.address = hex_value(nip.group(1))
        found.location = nip.group(2)
        return found
    regs = _NIP_REGS.match(body)
    if regs:
        found.arch.add("powerpc")
        found.address = hex_value(regs.group(1))
        return found
    lr = _LR_PPC.match(body) or _RA_RISCV.match(body)
    if lr:
        found.link = lr.group(1)
        return found
    epc = _EPC_RISCV.match(body)
    if epc:
        found.arch.add("riscv")
        found.address = hex_value(epc.group(1))
        found.location = epc.group(2)
        return found
    mips = _EPC_MIPS.match(body)
    if mips:
        found.arch.add("mips")
        found.address = hex_value(mips.group(1))
        found.location = mips.group(2) if mips.group(2) and "+" in mips.group(2) else None
        return found
    psw = _PSW.match(body)
    if psw:
        found.arch.add("s390")
        found.address = hex_value(psw.group(1))
        found.location = psw.group(2)
        return found
    if "pstate:" in body:
        found.arch.update({"arm64", "pstate"})
        return found
    if body.startswith("status: ") and "badaddr:" in body:
        found.arch.add("riscv")
        return found
    return None


# -- call trace frames ----------------------------------------------------------------------------------------

# Optional `[<address>]` (x86/arm64/riscv/mips/s390) or `[sp] [address]` (powerpc), optional `(` for
# s390's unreliable frames, `? ` for x86's, then the location; `(unreliable)` may follow on powerpc.
_FRAME = re.compile(
    rf"^(?:\[<?([0-9a-f]+)>?\]\s*)?(?:\[([0-9a-f]+)\]\s*)?(\()?(\?\s+)?{LOCATION}\)?\s*(\(unreliable\))?\s*$"
)
_ARM_FROM = re.compile(
    r"^\[<([0-9a-f]+)>\] \(([A-Za-z0-9_.$]+)(?:\+(0x[0-9a-f]+)/(0x[0-9a-f]+))?(?: \[([^\]\s]+)\])?\) from "
)
_NEW_ARM_FROM = re.compile(r"^([A-Za-z0-9_.$]+)(?:\+(0x[0-9a-f]+)/0x[0-9a-f]+)?(?: \[([^\]\s]+)\])? from \S+")


def trace_frame(body: str) -> tuple[Frame | None, bool] | None:
    """(frame, reliable) for a call-trace line, None when the line is not a frame."""
    match = _FRAME.match(body)
    if match:
        address, second, paren, question, symbol, offset, _length, module, unreliable = match.groups()
        # powerpc prints [stack pointer] [return address]; the second bracket is the code address.
        code = second or address
        frame = Frame(module=module, symbol=symbol, offset=offset, address=hex_value(code))
        return frame, not (question or paren or unreliable)
    match = _ARM_FROM.match(body)
    if match:
        address, symbol, offset, _length, module = match.groups()
        return Frame(module=module, symbol=symbol, offset=offset, address=hex_value(address)), True
    match = _NEW_ARM_FROM.match(body)
    if match:
        return Frame(module=match.group(3), symbol=match.group(1), offset=match.group(2)), True
    return None


# Frames that only show the kernel reporting the problem; the faulting function comes after them.
_REPORTING = re.compile(
    r"^(?:dump_stack\w*|__dump_stack|show_stack|dump_backtrace|sched_show_task|show_regs|panic|nmi_panic"
    r"|__warn\w*|warn_slowpath\w*|report_bug|handle_bug|\w*exc_invalid_op|do_trap|do_error_trap"
    r"|do_invalid_op|invalid_op|die|__die\w*|oops_end|print_address_description\w*|print_report"
    r"|\w*kasan_report\w*|kasan_check_range|__asan_\w+|__msan_\w+|kmsan_\w+|__ubsan_handle_\w+"
    r"|ubsan_\w+|kcsan_\w+|__kcsan_\w+|kfence_\w+|__kfence_\w+|no_context|__bad_area\w*|bad_area\w*"
    r"|__do_page_fault|do_page_fault|page_fault|\w*exc_page_fault|\w*exc_general_protection"
    r"|do_general_protection|general_protection|do_kernel_fault|__do_kernel_fault|do_mem_abort"
    r"|el1_da|el1_abort|el1h_64_sync\w*|do_translation_fault|do_bad_area|___might_sleep|__might_sleep"
    r"|__might_resched|__schedule_bug|check_memory_region\w*|memory_is_poisoned\w*)$"
)


def is_reporting_frame(symbol: str | None) -> bool:
    # Compiler-made copies keep their function's role: kasan_report.cold, print_report.constprop.0.
    base = re.sub(r"(?:\.(?:cold|constprop|isra|part|llvm|lto_priv)(?:\.\d+)?)+$", "", symbol or "")
    return bool(base) and _REPORTING.match(base) is not None
