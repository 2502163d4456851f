"""Windows kernel crash dumps (``PAGEDU64`` / ``PAGEDUMP``): header facts for every dump type, and the
driver list, stack and culprit of triage minidumps.

References (offsets in ``../shared/research/dump-formats.md`` section 4, each checked against the
sample ``rizin-testbins__triage_x64.dmp`` and its sidecar):
- DUMP_HEADER64: kdmp-parser ``src/lib/kdmp-parser-structs.h`` (0vercl0k, MIT) @fdbb9ef.
- DUMP_HEADER32: Volatility "Crash Address Space" wiki (``_DMP_HEADER``); no 32-bit sample exists, the
  32-bit triage layout is derived from the 64-bit one and guarded by the string-pool stride check.
- TRIAGE_DUMP64, DUMP_DRIVER_ENTRY64, string pool: rizin ``librz/bin/format/dmp/dmp_specs.h`` (layout
  only, no code copied); unloaded drivers: dbgeng DUMP_UNLOADED_DRIVERS64, confirmed on the sample bytes.
- EPROCESS ImageFileName offsets per build: public ``dt nt!_EPROCESS`` listings (Geoff Chappell).
- Culprit rules: analysis-spec B.1 (D2 fault address, D3 broken driver, D4 first non-Microsoft module on
  the stack; never ``nt``/``hal`` as "the driver").
Only the header pages are read for full, kernel and bitmap dumps, so a 64 GiB MEMORY.DMP costs what a
small file costs; triage dumps are read up to ``TRIAGE_READ_LIMIT``.
"""

from __future__ import annotations

import os
import re
from typing import Any, BinaryIO

from analysis.parsers._binary import (
    PAGE_FILL32,
    PAGE_FILL64,
    ParseError,
    filetime_to_iso,
    hex_or_none,
    span,
    u32,
    u64,
    uptr,
    utf16_string,
)
from analysis.parsers.kernel_culprit import culprit
from analysis.parsers.kernel_layout import (
    CONTEXT_PC,
    CONTEXT_SIZE,
    DUMP_TYPES,
    Header,
    Triage,
    context_pc,
)
from analysis.parsers.result import Crash, Frame, Module, ParseResult
from analysis.tables import drivers, knowledge

MAGIC64 = b"PAGEDU64"
MAGIC32 = b"PAGEDUMP"
HEADER64_SIZE = 0x2000
HEADER32_SIZE = 0x1000
TRIAGE_READ_LIMIT = 64 * 1024 * 1024  # real triage dumps are 0.1-3 MB
MAX_DRIVERS = 4096
MAX_UNLOADED = 256  # Windows keeps the last 50
MAX_STACK_BYTES = 1024 * 1024
MAX_STACK_FRAMES = 256

# Parameter (0-based) holding the VA of an exception CONTEXT record on the stack.
CONTEXT_PARAM = {0x7E: 3, 0x3B: 2}
# EPROCESS.ImageFileName per (arch, build range).
IMAGE_FILE_NAME_OFFSETS: tuple[tuple[str, int, int, int], ...] = (
    ("x64", 7600, 7601, 0x2E0),
    ("x64", 9200, 9600, 0x438),
    ("x64", 10240, 10240, 0x448),
    ("x64", 10586, 18363, 0x450),
    ("x64", 19041, 22631, 0x5A8),
    ("x64", 26100, 26200, 0x338),
    ("arm64", 22000, 22000, 0x560),
)
_PROCESS_NAME = re.compile(rb"[A-Za-z0-9][A-Za-z0-9 ._()+-]{2,14}")


def _not_fill(value: int | None, bits: int = 32) -> int | None:
    return None if value == (PAGE_FILL32 if bits == 32 else PAGE_FILL64) else value


def read_header(head: bytes) -> Header:
    """DUMP_HEADER64 or DUMP_HEADER32 fields; fields beyond a truncated buffer are ``None``."""
    if head[:8] == MAGIC64:
        return Header(
            bits=64,
            major=u32(head, 0x08),
            build=u32(head, 0x0C),
            machine=u32(head, 0x30),
            processors=u32(head, 0x34),
            code=u32(head, 0x38),
            params=[u64(head, 0x40 + 8 * i) for i in range(4)],
            dump_type=_not_fill(u32(head, 0xF98)),
            required_space=_not_fill(u64(head, 0xFA0), 64),
            system_time=_not_fill(u64(head, 0xFA8), 64),
            uptime=_not_fill(u64(head, 0x1030), 64),
            product_type=_not_fill(u32(head, 0x1040)),
            context=span(head, 0x348, 3000),
        )
    if head[:8] == MAGIC32:
        return Header(
            bits=32,
            major=u32(head, 0x08),
            build=u32(head, 0x0C),
            machine=u32(head, 0x20),
            processors=u32(head, 0x24),
            code=u32(head, 0x28),
            params=[u32(head, 0x2C + 4 * i) for i in range(4)],
            dump_type=_not_fill(u32(head, 0xF88)),
            required_space=_not_fill(u64(head, 0xFA0), 64),
            system_time=_not_fill(u64(head, 0xFC0), 64),
            uptime=_not_fill(u64(head, 0xFB8), 64),
            product_type=_not_fill(u32(head, 0xF94)),
            context=span(head, 0x320, 1200),
        )
    raise ParseError("not a Windows kernel dump (no PAGEDU64/PAGEDUMP signature)")


def _driver_name(buf: bytes, offset: int | None) -> str | None:
    if not offset:
        return None
    name = utf16_string(buf, offset)
    return name if name and name.isprintable() else None


def _read_drivers(buf: bytes, h: Header, fields: dict[str, int], errors: list[str], t: Triage) -> None:
    count, start = fields["DriverCount"], fields["DriverListOffset"]
    if not count or not start:
        return
    stride, ldr, base_at, size_at, stamp_at = (0x90, 8, 0x30, 0x40, 0x80) if h.bits == 64 else (
        0x4C, 4, 0x18, 0x20, 0x44)  # fmt: skip
    if count > MAX_DRIVERS:
        errors.append(f"triage driver count {count} is absurd (limit {MAX_DRIVERS}); driver list ignored")
        return
    pool = fields["StringPoolOffset"]
    if pool and pool > start and (pool - start) != count * stride:
        errors.append(
            f"driver list stride does not match the string pool position ({pool - start} bytes for {count} "
            f"entries of {stride}); driver list may be misread"
        )
    fits = max(0, (len(buf) - start) // stride) if start < len(buf) else 0
    if fits < count:
        errors.append(f"file truncated: driver list claims {count} entries, only {fits} present")
        count = fits
    for i in range(count):
        entry = start + i * stride
        path = _driver_name(buf, u32(buf, entry))
        base = uptr(buf, entry + ldr + base_at, h.bits)
        size = u32(buf, entry + ldr + size_at)
        stamp = u32(buf, entry + ldr + stamp_at)
        if path is None or base is None:
            continue
        name = drivers.base_name(path)
        t.modules.append(
            Module(
                name=name,
                base=hex_or_none(base),
                size=size,
                timestamp=None if stamp is None else f"0x{stamp:08x}",
                path=path if path != name else None,
            )
        )
        if size:
            t.ranges.append((base, base + size, name))
    t.ranges.sort()


def _read_unloaded(buf: bytes, h: Header, offset: int, errors: list[str], t: Triage) -> None:
    count = u32(buf, offset) if offset else None
    if count is None:
        return
    if count > MAX_UNLOADED:
        errors.append(f"unloaded driver count {count} is absurd (limit {MAX_UNLOADED}); list ignored")
        return
    first, stride, inline, start_at = (8, 0x38, 0x10, 0x28) if h.bits == 64 else (4, 0x28, 0x8, 0x20)
    for i in range(count):
        entry = offset + first + i * stride
        length = buf[entry : entry + 2]
        raw = span(buf, entry + inline, 24)
        start, end = uptr(buf, entry + start_at, h.bits), uptr(buf, entry + start_at + h.bits // 8, h.bits)
        if raw is None or start is None or end is None or len(length) < 2:
            errors.append("file truncated inside the unloaded driver list")
            return
        # The inline name keeps only 12 characters (e.g. "dump_storpor").
        chars = min(int.from_bytes(length, "little") // 2, 12)
        name = raw[: chars * 2].decode("utf-16-le", errors="replace")
        if name:
            size = end - start if end >= start else None
            t.unloaded.append(Module(name=name, base=hex_or_none(start), size=size))


def _scan_stack(buf: bytes, h: Header, fields: dict[str, int], top: int | None, t: Triage) -> bytes | None:
    offset, size = fields["CallStackOffset"], fields["SizeOfCallStack"]
    if not offset or not size or size > MAX_STACK_BYTES:
        return None
    stack = span(buf, offset, size)
    if stack is None:
        return None
    width = h.bits // 8
    for position in range(0, len(stack) - width + 1, width):
        value = uptr(stack, position, h.bits)
        hit = t.owner(value)
        if hit is None or value is None:
            continue
        name, delta = hit
        if t.stack and t.stack[-1].module == name:
            continue  # repeats of a module folded, as BlueScreenView does
        address = hex_or_none(value)
        t.stack.append(Frame(module=name, offset=hex_or_none(delta), address=address, trust="scan"))
        if len(t.stack) >= MAX_STACK_FRAMES:
            break
    if top is not None and h.code is not None:
        base = knowledge.base_code(h.code)
        index = CONTEXT_PARAM.get(base)
        arch = h.architecture
        if index is not None and arch in CONTEXT_PC and h.params[index] is not None:
            at = (h.params[index] or 0) - top
            if 0 <= at <= len(stack) - CONTEXT_SIZE[arch]:
                t.exception_pc = context_pc(stack[at : at + CONTEXT_SIZE[arch]], arch)
    return stack


def _process_name(buf: bytes, h: Header, offset: int, limit: int, t: Triage) -> None:
    if not offset:
        return
    end = min(len(buf), limit if limit > offset else offset + 0x1000, offset + 0x1000)
    block = buf[offset:end]
    candidates: list[tuple[int, str]] = []
    for arch, low, high, at in IMAGE_FILE_NAME_OFFSETS:
        if arch == h.architecture and h.build is not None and low <= h.build <= high:
            candidates.append((at, "build table"))
    for at, source in candidates:
        name = _image_file_name(block, at)
        if name:
            t.process_name, t.process_name_source = name, f"EPROCESS+0x{at:x} ({source})"
            return
    # Fallback: the first NUL-padded 15-byte name after the fixed part of EPROCESS.
    for match in _PROCESS_NAME.finditer(block, 0x300 if h.bits == 64 else 0x100):
        name = _image_file_name(block, match.start())
        if name and (name.lower().endswith(".exe") or name in {"System", "Registry", "MemCompression"}):
            t.process_name, t.process_name_source = name, f"EPROCESS+0x{match.start():x} (scan)"
            return


def _image_file_name(block: bytes, at: int) -> str | None:
    raw = span(block, at, 15)
    if raw is None or raw[0] == 0:
        return None
    name, _, rest = raw.partition(b"\x00")
    if rest.strip(b"\x00") or not _PROCESS_NAME.fullmatch(name):
        return None
    return name.decode("ascii")


TRIAGE_FIELDS = (
    "ServicePackBuild", "SizeOfDump", "ValidOffset", "ContextOffset", "ExceptionOffset", "MmOffset",
    "UnloadedDriversOffset", "PrcbOffset", "ProcessOffset", "ThreadOffset", "CallStackOffset",
    "SizeOfCallStack", "DriverListOffset", "DriverCount", "StringPoolOffset", "StringPoolSize",
    "BrokenDriverOffset", "TriageOptions",
)  # fmt: skip


def read_triage(buf: bytes, h: Header, errors: list[str]) -> Triage:
    """The TRIAGE_DUMP header that follows the dump header of a DumpType 4 file."""
    at = HEADER64_SIZE if h.bits == 64 else HEADER32_SIZE
    t = Triage()
    values = [u32(buf, at + 4 * i) for i in range(len(TRIAGE_FIELDS))]
    if any(v is None for v in values):
        errors.append("file truncated: no complete triage header after the dump header")
        return t
    fields = {name: value or 0 for name, value in zip(TRIAGE_FIELDS, values, strict=True)}
    if fields["SizeOfDump"] > len(buf) and len(buf) < TRIAGE_READ_LIMIT:
        errors.append(f"file truncated: triage dump claims {fields['SizeOfDump']} bytes, file has {len(buf)}")
    if span(buf, fields["ValidOffset"], 4) != b"TRGD":
        errors.append("triage header not validated (no TRGD marker at ValidOffset); lists read with care")
    top = uptr(buf, at + 0x48, h.bits)
    _read_drivers(buf, h, fields, errors, t)
    _read_unloaded(buf, h, fields["UnloadedDriversOffset"], errors, t)
    _scan_stack(buf, h, fields, top, t)
    _process_name(buf, h, fields["ProcessOffset"], fields["ThreadOffset"], t)
    broken = _driver_name(buf, fields["BrokenDriverOffset"])
    t.broken_driver = drivers.base_name(broken) if broken else None
    return t


def build_crash(h: Header, t: Triage | None, file_size: int) -> Crash:
    name, reason, facts = culprit(h, t)
    extra: dict[str, Any] = {
        "dump_type": h.dump_type,
        "dump_type_name": DUMP_TYPES.get(h.dump_type or 0),
        "bits": h.bits,
        "major_version": h.major,
        "machine_type": hex_or_none(h.machine),
        "processor_count": h.processors,
        "uptime_seconds": None if h.uptime is None else round(h.uptime / 1e7, 3),
        "required_dump_space": h.required_space,
        "file_size": file_size,
        "product_type": h.product_type,
        **facts,
    }
    stack: tuple[Frame, ...] = ()
    if t is not None:
        extra["process_name_source"] = t.process_name_source
        extra["exception_context_pc"] = hex_or_none(t.exception_pc)
        stack = tuple(t.stack)
        fault = facts.get("fault_module")
        if fault:
            # The faulting instruction heads the stack, as the debugger's first frame would.
            module, _, offset = fault.partition("+")
            source = facts.get("fault_address_source") or ""
            trust = "context" if "context" in source else "parameter"
            stack = (Frame(module=module, offset=offset, address=facts["fault_address"], trust=trust), *stack)
        extra["stack_modules"] = list(dict.fromkeys(f.module for f in t.stack if f.module))
    code = h.code
    return Crash(
        bugcheck_code=None if code is None else f"0x{code:08x}",
        bugcheck_name=knowledge.bugcheck_name(code),
        parameters=tuple(hex_or_none(p) for p in h.params),
        crash_time=filetime_to_iso(h.system_time),
        os_build=None if h.build is None else str(h.build),
        architecture=h.architecture,
        process_name=t.process_name if t else None,
        culprit_module=name,
        culprit_reason=reason,
        stack=stack,
        modules=tuple(t.modules) if t else (),
        unloaded_modules=tuple(t.unloaded) if t else (),
        extra={key: value for key, value in extra.items() if value is not None},
    )


def parse(source: str | os.PathLike[str] | BinaryIO) -> ParseResult:
    """Parse a kernel dump; reads the header pages only, plus the body of triage minidumps (bounded).

    ``source`` is a path or a seekable binary file (a dump in object storage is read with ranged reads,
    so a 16 GiB kernel memory dump costs its header)."""
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return _parse_handle(handle, os.path.basename(os.fspath(source)))
    return _parse_handle(source, os.path.basename(str(getattr(source, "name", "")) or "dump"))


def _parse_handle(handle: BinaryIO, file: str) -> ParseResult:
    errors: list[str] = []
    size = handle.seek(0, os.SEEK_END)
    handle.seek(0)
    head = handle.read(HEADER64_SIZE)
    header = read_header(head)
    wanted = HEADER64_SIZE if header.bits == 64 else HEADER32_SIZE
    if len(head) < wanted:
        errors.append(f"file truncated: {len(head)} bytes, the dump header alone is {wanted}")
    if header.code is None:
        return ParseResult(file=file, kind="kernel_dump", errors=tuple(errors))
    if header.required_space and header.required_space > size and header.dump_type != 4:
        errors.append(
            f"file truncated: the header says the dump is {header.required_space} bytes, file has {size}"
        )
    triage = None
    if header.dump_type == 4:
        body = head + handle.read(min(size, TRIAGE_READ_LIMIT) - len(head))
        triage = read_triage(body, header, errors)
    if header.architecture is None:
        errors.append(f"unknown machine type {hex_or_none(header.machine)}")
    return ParseResult(
        file=file, kind="kernel_dump", crashes=(build_crash(header, triage, size),), errors=tuple(errors)
    )
