"""User-mode minidumps (``MDMP``): Windows (WER, ProcDump, breakpad, crashpad), Linux and macOS ones.

An own reader of the stream directory, because it is bounded (every count and RVA is checked against
the file before use) and survives unknown or broken streams, where the ``minidump`` package fails the
whole file. Layouts: Microsoft ``minidumpapiset.h`` (MINIDUMP_HEADER, _DIRECTORY, _MODULE, _EXCEPTION_STREAM,
_SYSTEM_INFO, _THREAD_LIST) and, for non-Windows platform ids and signal-based exception codes, Breakpad's
``minidump_format.h`` and rust-minidump's ``minidump-common/src/format.rs``. Memory is mapped, not read.
"""

from __future__ import annotations

import mmap
import os
from typing import Any

from analysis.parsers._binary import Buffer, ParseError, epoch_to_iso, hex_or_none, span, u16, u32, u64
from analysis.parsers.result import Crash, Module, ParseResult

MAGIC = b"MDMP"
MAX_STREAMS = 4096
MAX_MODULES = 65536
MODULE_SIZE = 108

THREAD_LIST, MODULE_LIST, EXCEPTION, SYSTEM_INFO = 3, 4, 6, 7
ARCHITECTURES = {0: "x86", 5: "arm", 6: "ia64", 9: "x64", 12: "arm64", 0x8003: "arm64", 0x8001: "sparc",
                 0x8002: "ppc64", 0x8004: "mips64", 0x8005: "riscv", 0x8006: "riscv64"}  # fmt: skip
PLATFORMS = {2: "Windows NT", 1: "Windows 9x", 0x8000: "Unix", 0x8101: "Mac OS X", 0x8102: "iOS",
             0x8201: "Linux", 0x8202: "Solaris", 0x8203: "Android", 0x8204: "PS3", 0x8205: "NaCl",
             0x8206: "Fuchsia"}  # fmt: skip
WINDOWS_EXCEPTIONS = {
    0xC0000005: "STATUS_ACCESS_VIOLATION",
    0x80000003: "STATUS_BREAKPOINT",
    0x80000004: "STATUS_SINGLE_STEP",
    0x80000002: "STATUS_DATATYPE_MISALIGNMENT",
    0xC0000006: "STATUS_IN_PAGE_ERROR",
    0xC0000008: "STATUS_INVALID_HANDLE",
    0xC000000D: "STATUS_INVALID_PARAMETER",
    0xC0000017: "STATUS_NO_MEMORY",
    0xC000001D: "STATUS_ILLEGAL_INSTRUCTION",
    0xC0000025: "STATUS_NONCONTINUABLE_EXCEPTION",
    0xC000008C: "STATUS_ARRAY_BOUNDS_EXCEEDED",
    0xC000008E: "STATUS_FLOAT_DIVIDE_BY_ZERO",
    0xC0000094: "STATUS_INTEGER_DIVIDE_BY_ZERO",
    0xC0000095: "STATUS_INTEGER_OVERFLOW",
    0xC0000096: "STATUS_PRIVILEGED_INSTRUCTION",
    0xC00000FD: "STATUS_STACK_OVERFLOW",
    0xC0000135: "STATUS_DLL_NOT_FOUND",
    0xC0000142: "STATUS_DLL_INIT_FAILED",
    0xC0000374: "STATUS_HEAP_CORRUPTION",
    0xC0000409: "STATUS_STACK_BUFFER_OVERRUN",
    0xC0000417: "STATUS_INVALID_CRUNTIME_PARAMETER",
    0xC0000420: "STATUS_ASSERTION_FAILURE",
    0xC0000602: "STATUS_FAIL_FAST_EXCEPTION",
    0xC06D007E: "VCPP_EXCEPTION_MOD_NOT_FOUND",
    0xE06D7363: "CPP_EH_EXCEPTION (Microsoft C++ exception)",
    0x40000015: "STATUS_FATAL_APP_EXIT",
    0xCFFFFFFF: "APPLICATION_HANG (WER)",
}
LINUX_SIGNALS = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
                 7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
                 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 31: "SIGSYS"}  # fmt: skip
MACH_EXCEPTIONS = {1: "EXC_BAD_ACCESS", 2: "EXC_BAD_INSTRUCTION", 3: "EXC_ARITHMETIC", 4: "EXC_EMULATION",
                   5: "EXC_SOFTWARE", 6: "EXC_BREAKPOINT", 7: "EXC_SYSCALL", 8: "EXC_MACH_SYSCALL",
                   9: "EXC_RPC_ALERT", 10: "EXC_CRASH", 11: "EXC_RESOURCE", 12: "EXC_GUARD"}  # fmt: skip
MAC_SIGNALS = {**LINUX_SIGNALS, 7: "SIGEMT", 10: "SIGBUS", 12: "SIGSYS", 30: "SIGUSR1", 31: "SIGUSR2"}


def _minidump_string(buf: Buffer, rva: int | None) -> str | None:
    """MINIDUMP_STRING: u32 length in bytes, then UTF-16LE."""
    length = u32(buf, rva) if rva else None
    if length is None or length > 64 * 1024 or length % 2:
        return None
    raw = span(buf, (rva or 0) + 4, length)
    return None if raw is None else raw.decode("utf-16-le", errors="replace")


def _directory(buf: Buffer, errors: list[str]) -> dict[int, tuple[int, int]]:
    count, rva = u32(buf, 8), u32(buf, 12)
    if count is None or rva is None:
        raise ParseError("file truncated: incomplete MINIDUMP_HEADER")
    if count > MAX_STREAMS:
        raise ParseError(f"stream count {count} is absurd (limit {MAX_STREAMS})")
    if rva + 12 * count > len(buf):
        raise ParseError(f"stream directory ({count} entries at 0x{rva:x}) lies beyond the end of the file")
    streams: dict[int, tuple[int, int]] = {}
    for i in range(count):
        kind, size, at = u32(buf, rva + 12 * i), u32(buf, rva + 12 * i + 4), u32(buf, rva + 12 * i + 8)
        if kind is None or size is None or at is None or kind == 0:
            continue  # UnusedStream
        if at + size > len(buf):
            errors.append(
                f"stream type 0x{kind:x} ({size} bytes at 0x{at:x}) lies beyond the end of the file"
            )
            continue
        streams.setdefault(kind, (at, size))
    return streams


def _system_info(buf: Buffer, stream: tuple[int, int] | None) -> dict[str, Any]:
    if stream is None or stream[1] < 24:
        return {}
    at = stream[0]
    arch_id, platform_id = u16(buf, at), u32(buf, at + 20)
    major, minor, build = u32(buf, at + 8), u32(buf, at + 12), u32(buf, at + 16)
    csd = _minidump_string(buf, u32(buf, at + 24)) or ""
    platform = PLATFORMS.get(platform_id or -1, None if platform_id is None else f"0x{platform_id:x}")
    info: dict[str, Any] = {
        "architecture": ARCHITECTURES.get(arch_id if arch_id is not None else -1),
        "os": platform,
        "os_version": f"{major}.{minor}.{build}",
        "csd_version": csd or None,
        "processor_count": (span(buf, at + 6, 1) or b"\x00")[0] or None,
        "platform_id": platform_id,
    }
    if platform_id == 2:
        info["os_build"] = str(build)
    elif platform_id in (0x8201, 0x8203):
        # Breakpad writes 0.0.0 and puts "Linux <release> #1 SMP ..." into the CSD string.
        parts = csd.split()
        info["os_build"] = parts[1] if len(parts) > 1 and parts[0] == "Linux" else info["os_version"]
    elif platform_id in (0x8101, 0x8102):
        info["os_build"] = csd or info["os_version"]
    return info


def _modules(buf: Buffer, stream: tuple[int, int] | None, errors: list[str]) -> list[Module]:
    if stream is None:
        return []
    at, size = stream
    count = u32(buf, at) or 0
    # Some writers pad the count to 8 bytes; the stream size tells which layout it is.
    first = at + 8 if size == 8 + count * MODULE_SIZE else at + 4
    if count > MAX_MODULES or count * MODULE_SIZE > size:
        errors.append(f"module list claims {count} modules in a {size}-byte stream; list ignored")
        return []
    modules: list[Module] = []
    for i in range(count):
        entry = first + i * MODULE_SIZE
        base, image_size, stamp = u64(buf, entry), u32(buf, entry + 8), u32(buf, entry + 16)
        path = _minidump_string(buf, u32(buf, entry + 20))
        if base is None or not path:
            continue
        version = None
        if u32(buf, entry + 24) == 0xFEEF04BD:
            ms, ls = u32(buf, entry + 32) or 0, u32(buf, entry + 36) or 0
            if ms or ls:
                version = f"{ms >> 16}.{ms & 0xFFFF}.{ls >> 16}.{ls & 0xFFFF}"
        name = path.replace("\\", "/").rsplit("/", 1)[-1]
        modules.append(
            Module(
                name=name,
                base=hex_or_none(base),
                size=image_size,
                timestamp=None if stamp is None else f"0x{stamp:08x}",
                version=version,
                path=path if path != name else None,
            )
        )
    return modules


def _exception_name(code: int, params: list[int], platform_id: int | None) -> str | None:
    if platform_id in (0x8201, 0x8203):
        return LINUX_SIGNALS.get(code)
    if platform_id in (0x8101, 0x8102):
        mach, codes = (
            (code, params) if code in MACH_EXCEPTIONS else (params[0] if params else None, params[1:])
        )
        if mach not in MACH_EXCEPTIONS:
            return None
        name = MACH_EXCEPTIONS[mach]
        if mach == 10 and codes:
            # EXC_CRASH carries the signal in bits 24-31 of its first code.
            signal = MAC_SIGNALS.get((codes[0] >> 24) & 0xFF)
            return f"{name} / {signal}" if signal else name
        return name
    return WINDOWS_EXCEPTIONS.get(code)


def _owner(modules: list[Module], address: int) -> tuple[Module, int] | None:
    for module in modules:
        base = int(module.base, 16) if module.base else 0
        if module.size and base <= address < base + module.size:
            return module, address - base
    return None


def parse(path: str | os.PathLike[str]) -> ParseResult:
    """Parse a user-mode minidump: exception, faulting module, process, OS, modules, threads."""
    file = os.path.basename(os.fspath(path))
    errors: list[str] = []
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size < 32:
            raise ParseError(f"file truncated: {size} bytes, a minidump header is 32")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            if buf[:4] != MAGIC:
                raise ParseError("not a user-mode minidump (no MDMP signature)")
            crash = _crash(buf, errors)
    if crash is None:
        errors.append("no usable stream: no exception, module list or system information could be read")
        return ParseResult(file=file, kind="user_dump", errors=tuple(errors))
    return ParseResult(file=file, kind="user_dump", crashes=(crash,), errors=tuple(errors))


def _crash(buf: Buffer, errors: list[str]) -> Crash | None:
    streams = _directory(buf, errors)
    if not {EXCEPTION, MODULE_LIST, SYSTEM_INFO, THREAD_LIST} & streams.keys():
        return None
    system = _system_info(buf, streams.get(SYSTEM_INFO))
    modules = _modules(buf, streams.get(MODULE_LIST), errors)
    extra: dict[str, Any] = {
        key: system.get(key) for key in ("os", "os_version", "csd_version", "processor_count")
    }
    extra["minidump_time"] = epoch_to_iso(u32(buf, 20))
    thread_stream = streams.get(THREAD_LIST)
    if thread_stream:
        threads = u32(buf, thread_stream[0])
        extra["thread_count"] = threads if threads is not None and threads * 48 <= thread_stream[1] else None
    code = address = None
    name = culprit = reason = None
    exception = streams.get(EXCEPTION)
    if exception and exception[1] >= 40:
        at = exception[0]
        code, address = u32(buf, at + 8), u64(buf, at + 24)
        count = min(u32(buf, at + 32) or 0, 15)
        params = [u64(buf, at + 40 + 8 * i) or 0 for i in range(count)]
        extra["exception_thread_id"] = u32(buf, at)
        extra["exception_parameters"] = [hex_or_none(p) for p in params]
        if system.get("architecture") in ("x86", "arm") and address is not None:
            address &= 0xFFFFFFFF  # 32-bit writers may sign-extend the address
        if code is not None:
            name = _exception_name(code, params, system.get("platform_id"))
        hit = _owner(modules, address) if address is not None else None
        if hit:
            culprit = hit[0].name
            reason = f"exception address {hex_or_none(address)} is in {hit[0].name}+0x{hit[1]:x}"
            extra["fault_module"] = f"{hit[0].name}+0x{hit[1]:x}"
        elif address is not None:
            reason = f"exception address {hex_or_none(address)} is in no loaded module"
    else:
        extra["note"] = "no exception stream: the dump was written without a crash (on request or a hang)"
        reason = "no exception recorded in this dump"
    process = modules[0].name if modules else None
    return Crash(
        exception_code=None if code is None else f"0x{code:08x}",
        exception_name=name,
        exception_address=hex_or_none(address),
        crash_time=extra["minidump_time"],
        os_build=system.get("os_build"),
        architecture=system.get("architecture"),
        process_name=process,
        culprit_module=culprit,
        culprit_reason=reason,
        modules=tuple(modules),
        extra={key: value for key, value in extra.items() if value is not None},
    )
