"""One `!analyze` segment -> one Crash, taking each fact from the most direct field that holds it.

Reference: research/analysis-spec.md section 1.2. Precedence is explicit field > heading > load-time
`BugCheck` line > Key/Value pair > bucket prefix > KeBugCheckEx stack arguments, and each crash says in
`extra` which one it used.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from analysis.parsers._textio import code_value, hex_value
from analysis.parsers.result import Crash
from analysis.parsers.windbg_text import _segments
from analysis.parsers.windbg_text._fields import Fields, collect
from analysis.parsers.windbg_text._modules import find_modules
from analysis.parsers.windbg_text._stack import RawFrame, bugcheck_from_stack, find_frames, first_run

_PROBABLY = re.compile(r"Probably caused by\s*:\s*([^\s(]+)(?:\s*\(\s*([^)\s]+)\s*\))?")
_EXCEPTION_CODE_LINE = re.compile(r"ExceptionCode:\s*([0-9a-fA-F]{8})\b(?:\s*\(([^)\n]*)\))?")
_EXCEPTION_ADDRESS_LINE = re.compile(r"ExceptionAddress:\s*([0-9a-fA-F`]{8,17})\b(?:\s*\(([^)\s]+)\))?")
_STATUS = re.compile(r"0x([0-9a-fA-F]{1,8})\b(?:[ \t]*-[ \t]*([^\n]*))?")
_BUCKET_CODE = re.compile(r"^0x([0-9a-fA-F]{1,8})(?:_|$)")
_BUCKET_STATUS = re.compile(r"(?:^|_)([0-9a-fA-F]{8})(?:_|$)")
_SYMBOL_LINE = re.compile(r"(?m)^([A-Za-z0-9_.$\-]+)!([^\s:]+):[ \t]*$")
_SESSION_TIME = re.compile(
    r"Debug session time:\s*\w{3}\s+(\w{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?\s+(\d{4})"
    r"\s*\(UTC\s*([+-])\s*(\d{1,2}):(\d{2})\)"
)
_UPTIME = re.compile(r"System Uptime:\s*(\d+ days? \d+:\d{2}:\d{2}(?:\.\d+)?)")
_KERNEL_VERSION = re.compile(r"Kernel Version (\d{4,5}) (?:MP|UP)[^\n]*?\b(x64|x86|ARM64|ARM)\b", re.I)
_BUILT_BY = re.compile(r"Built by:\s*(\d{4,5})\.\d+\.(amd64|x86|arm64|arm)fre")
_UNVERIFIED = re.compile(r"Unable to verify timestamp for ([^\s]+\.(?:sys|dll|exe))", re.I)
_DRIVER_OBJECT = re.compile(r"\\Driver\\([A-Za-z0-9_.\-]{2,64})")
# !errrec's machine-check section: "Error         : ICACHEL0_IRD_ERR (Proc 0 Bank 0)".
_WHEA_ERROR = re.compile(r"Error\s*:\s*([A-Z0-9_]{3,})\s*\(Proc\s+(\d+)\s+Bank\s+(\d+)\)")
_LOADING_DUMP = re.compile(r"Loading Dump File \[([^\]\n]+)\]")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], start=1
    )
}
_ARCH = {"x64": "x64", "amd64": "x64", "x86": "x86", "i386": "x86", "arm64": "arm64", "arm": "arm"}
# Names the debugger uses for a verdict rather than a module; not a culprit file.
_PSEUDO_MODULES = {"memory_corruption", "unknown_image", "unknown_module", "unknown", "corrupt_module"}
_KERNEL_MODULES = {"nt", "ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp", "hal"}
_MAX_KEYS = 200


def build_crash(text: str, start: int, end: int, headings: list[re.Match[str]]) -> Crash | None:
    """The crash an analysis segment describes, or None when it holds no crash facts at all."""
    fields = collect(text, start, end)
    frames = find_frames(text, start, end)
    stack_tag = fields.tags.get("STACK_TEXT")
    run = first_run(frames, text, stack_tag.start if stack_tag else start) or first_run(frames, text, start)
    heading = next((m for m in headings if start <= m.start() < end), None)
    load_line = _segments.BUGCHECK_LINE.search(text, start, end)
    banner = _segments.BANNER.search(text, start, end)
    extra: dict[str, Any] = {}

    code, params = _bugcheck(fields, heading, load_line, run, text, extra)
    exception = _exception(fields, text, start, end)
    user_mode = _is_user_mode(banner, code, params, exception, fields, run)
    evidence = (
        code is not None
        or any(p is not None for p in params)
        or bool(run)
        or heading is not None
        or exception.get("code") is not None
        or any(fields.tag(t) for t in ("SYMBOL_NAME", "MODULE_NAME", "IMAGE_NAME", "FAILURE_BUCKET_ID"))
        or "Failure.Bucket" in fields.keys
    )
    if not evidence:
        return None

    culprit, reason = _culprit(fields, text, start, end, exception if user_mode else {}, extra)
    os_build, architecture = _os(fields, text, start, end, extra)
    _describe(fields, text, start, end, heading, extra)
    extra["analysis"] = "user" if user_mode else "kernel"
    if fields.cut_off:
        extra["cut_off"] = sorted(set(fields.cut_off))
    common: dict[str, Any] = {
        "title": None,
        "crash_time": _crash_time(fields, text, start, end),
        "os_build": os_build,
        "architecture": architecture,
        "process_name": fields.tag("PROCESS_NAME"),
        "culprit_module": culprit,
        "culprit_reason": reason,
        "stack": tuple(raw.frame for raw in run),
        "modules": find_modules(text, start, end),
        "extra": extra,
    }
    if user_mode:
        return Crash(
            exception_code=exception.get("code"),
            exception_name=exception.get("name"),
            exception_address=exception.get("address"),
            **common,
        )
    for key in ("code", "name", "address"):
        if exception.get(key) is not None:
            extra[f"exception_{key}"] = exception[key]
    return Crash(
        bugcheck_code=code,
        bugcheck_name=heading.group(1) if heading else None,
        parameters=params,
        **common,
    )


def _bugcheck(
    fields: Fields,
    heading: re.Match[str] | None,
    load_line: re.Match[str] | None,
    run: list[RawFrame],
    text: str,
    extra: dict[str, Any],
) -> tuple[str | None, tuple[str | None, ...]]:
    candidates: list[tuple[str | None, str]] = [
        (fields.tag("BUGCHECK_CODE"), "BUGCHECK_CODE"),
        (heading.group(2) if heading else None, "heading"),
        (load_line.group(1) if load_line else None, "BugCheck line"),
    ]
    for key in ("Bugcheck.Code.LegacyAPI", "Bugcheck.Code.KiBugCheckData", "Bugcheck.Code.TargetModel"):
        candidates.append((fields.keys.get(key), f"Key {key}"))
    for tag in ("BUGCHECK_STR", "FAILURE_BUCKET_ID", "BUCKET_ID"):
        match = _BUCKET_CODE.match(fields.tag(tag) or "")
        candidates.append((match.group(1) if match else None, f"{tag} prefix"))
    bucket = _BUCKET_CODE.match(fields.keys.get("Failure.Bucket", ""))
    candidates.append((bucket.group(1) if bucket else None, "Key Failure.Bucket prefix"))
    code = None
    for raw, source in candidates:
        code = code_value(raw)
        if code is not None:
            extra["bugcheck_code_source"] = source
            break

    params: list[str | None] = [None] * 4
    line_params = _load_line_params(load_line, text)
    found = False
    for index in range(4):
        arg = fields.args.get(index + 1)
        tagged = fields.tags.get(f"BUGCHECK_P{index + 1}")
        if arg is not None or tagged is not None or line_params[index] is not None:
            found = True
        if arg is not None and arg.text is not None:
            params[index] = hex_value(arg.text)
        elif tagged is not None and tagged.text is not None:
            params[index] = hex_value(tagged.text.split()[0])
        else:
            params[index] = line_params[index]
    if code is None and not found:
        from_stack = bugcheck_from_stack(run)
        if from_stack is not None:
            code = code_value(from_stack[0])
            params, found = list(from_stack[1]), True
            extra["bugcheck_code_source"] = "nt!KeBugCheckEx stack arguments"
            extra["parameters_source"] = (
                "nt!KeBugCheckEx frame arguments in the stack; the kernel may rewrite some before "
                "display (0x50 Arg3 is the trap frame there, the faulting IP in !analyze)"
            )
    return code, tuple(params) if found else ()


def _load_line_params(load_line: re.Match[str] | None, text: str) -> list[str | None]:
    params: list[str | None] = [None] * 4
    if load_line is None:
        return params
    pieces = [p.strip() for p in load_line.group(2).split(",")]
    if not load_line.group(3):
        pieces = pieces[:-1]  # no closing brace: the last value may be cut
    for index, piece in enumerate(pieces[:4]):
        params[index] = hex_value(piece)
    return params


def _exception(fields: Fields, text: str, start: int, end: int) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    line = _EXCEPTION_CODE_LINE.search(text, start, end)
    for raw, name in (
        (fields.tag("EXCEPTION_CODE_STR"), None),
        (line.group(1) if line else None, line.group(2) if line else None),
        (fields.tag("FAILURE_EXCEPTION_CODE"), None),
        (fields.keys.get("Failure.Exception.Code"), None),
    ):
        code = code_value(raw)
        if code is not None:
            found["code"], found["name"] = code, name
            break
    for tag in ("EXCEPTION_CODE", "ERROR_CODE"):
        status = _STATUS.search(fields.tag(tag) or "")
        if status:
            found.setdefault("code", code_value(status.group(1)))
            description = (status.group(2) or "").strip()
            # "<Unable to get error code text>" is the debugger saying it has no name.
            if (
                found.get("name") is None
                and description
                and not description.startswith("<")
                and found["code"] == code_value(status.group(1))
            ):
                found["name"] = description
    if found.get("code") is None and "AV.Type" in fields.keys:
        # The debugger writes AV.Type only when it classified an access violation.
        found["code"], found["source"] = "0xc0000005", "Key AV.Type (access violation)"
    if found.get("code") is None:
        for tag in ("FAILURE_BUCKET_ID", "BUCKET_ID"):
            status = _BUCKET_STATUS.search(fields.tag(tag) or "")
            if status and not (fields.tag(tag) or "").startswith("0x"):
                found["code"] = code_value(status.group(1))
                break
    address = _EXCEPTION_ADDRESS_LINE.search(text, start, end)
    if address:
        found["address"] = hex_value(address.group(1))
        if address.group(2) and "!" in address.group(2):
            found["module"] = address.group(2).split("!", 1)[0]
    elif fields.keys.get("Failure.Exception.IP.Address"):
        found["address"] = hex_value(fields.keys["Failure.Exception.IP.Address"])
    if "module" not in found and fields.keys.get("Failure.Exception.IP.Module"):
        found["module"] = fields.keys["Failure.Exception.IP.Module"]
    return found


def _is_user_mode(
    banner: re.Match[str] | None,
    code: str | None,
    params: tuple[str | None, ...],
    exception: dict[str, str | None],
    fields: Fields,
    run: list[RawFrame],
) -> bool:
    if banner is not None:
        return banner.group(1) == "Exception"
    if code is not None or any(p is not None for p in params):
        return False
    source = (fields.tag("ANALYSIS_SOURCE") or "").upper()
    hash_string = (fields.tag("FAILURE_ID_HASH_STRING") or "").lower()
    if source == "UM" or hash_string.startswith("um:"):
        return True
    if source == "KM" or hash_string.startswith("km:"):
        return False
    if any(raw.frame.module in _KERNEL_MODULES for raw in run):
        return False
    return exception.get("code") is not None


def _culprit(
    fields: Fields,
    text: str,
    start: int,
    end: int,
    exception: dict[str, str | None],
    extra: dict[str, Any],
) -> tuple[str | None, str | None]:
    probably = _PROBABLY.search(text, start, end)
    options: list[tuple[str | None, str]] = [
        (exception.get("module"), "holds the exception address (the debugger's exception record)"),
        (fields.tag("IMAGE_NAME"), "named by the debugger's !analyze (IMAGE_NAME)"),
        (fields.tag("MODULE_NAME"), "named by the debugger's !analyze (MODULE_NAME)"),
        (fields.tag("FAILURE_IMAGE_NAME"), "named by the debugger's !analyze (FAILURE_IMAGE_NAME)"),
        (probably.group(1) if probably else None, "named by the debugger ('Probably caused by')"),
    ]
    for name, reason in options:
        if not name:
            continue
        name = name.split()[0]
        if name.lower() in _PSEUDO_MODULES or name.lower().startswith("hardware"):
            extra["debugger_verdict"] = name
            return None, f"the debugger blames {name}, not a module"
        return name, reason
    return None, None


def _os(
    fields: Fields, text: str, start: int, end: int, extra: dict[str, Any]
) -> tuple[str | None, str | None]:
    build: str | None = None
    arch: str | None = None
    version = fields.tag("OS_VERSION") or fields.keys.get("WER.OS.Version")
    if version:
        extra["os_version"] = version
        parts = version.split(".")
        if len(parts) >= 3 and parts[2].isdigit():
            build = parts[2]
    build_string = fields.tag("BUILD_VERSION_STRING") or fields.tag("BUILDOSVER_STR")
    if build_string:
        extra["build_version_string"] = build_string
        head = build_string.split(".")[0]
        if build is None and head.isdigit():
            build = head
        fre = re.search(r"\.(amd64|x86|arm64|arm)fre", build_string)
        arch = _ARCH[fre.group(1)] if fre else None
    osbuild = fields.tag("OSBUILD")
    if build is None and osbuild and osbuild.isdigit():
        build = osbuild
    kernel = _KERNEL_VERSION.search(text, start, end)
    if kernel:
        build = build or kernel.group(1)
        arch = arch or _ARCH.get(kernel.group(2).lower())
    built_by = _BUILT_BY.search(text, start, end)
    if built_by:
        build = build or built_by.group(1)
        arch = arch or _ARCH.get(built_by.group(2))
    platform = (fields.tag("OSPLATFORM_TYPE") or "").lower()
    arch = arch or _ARCH.get(platform)
    if arch is None:
        # Register dumps name the architecture outright (TRAP_FRAME / CONTEXT output).
        segment = text[start:end]
        if re.search(r"\brip=[0-9a-f]{16}\b", segment):
            arch = "x64"
        elif re.search(r"\beip=[0-9a-f]{8}\b", segment):
            arch = "x86"
    return build, arch


def _crash_time(fields: Fields, text: str, start: int, end: int) -> str | None:
    session = _SESSION_TIME.search(text, start, end)
    if session and session.group(1) in _MONTHS:
        month, day, hour, minute, second, year, sign, off_h, off_m = session.groups()
        try:
            local = datetime(
                int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC
            )
        except ValueError:
            return None
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        # "(UTC - 4:00)" means local time is four hours behind UTC.
        moment = local + offset if sign == "-" else local - offset
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    target = fields.tag("TARGET_TIME")
    if target:
        match = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})", target)
        if match:
            try:
                year, month, day, hour, minute, second = (int(g) for g in match.groups())
                parsed = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except ValueError:
                return None
            return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
    return None


def _describe(
    fields: Fields, text: str, start: int, end: int, heading: re.Match[str] | None, extra: dict[str, Any]
) -> None:
    simple = {
        "failure_bucket": fields.tag("FAILURE_BUCKET_ID") or fields.keys.get("Failure.Bucket"),
        "failure_hash": fields.tag("FAILURE_ID_HASH") or fields.keys.get("Failure.Hash"),
        "symbol_name": fields.tag("SYMBOL_NAME"),
        "image_name": fields.tag("IMAGE_NAME"),
        "module_name": fields.tag("MODULE_NAME"),
        "bugcheck_str": fields.tag("BUGCHECK_STR"),
        "default_bucket_id": fields.tag("DEFAULT_BUCKET_ID"),
        "followup_name": fields.tag("FOLLOWUP_NAME"),
        "image_version": fields.tag("IMAGE_VERSION"),
        "current_irql": fields.tag("CURRENT_IRQL"),
        "dump_file": fields.tag("FILE_IN_CAB"),
        "system_manufacturer": fields.tag("SYSTEM_MANUFACTURER"),
        "system_product_name": fields.tag("SYSTEM_PRODUCT_NAME"),
        "bios_version": fields.tag("BIOS_VERSION"),
    }
    extra.update({key: value for key, value in simple.items() if value})
    if heading is not None:
        extra["bugcheck_heading"] = f"{heading.group(1)} ({heading.group(2)})"
    loading = _LOADING_DUMP.search(text, start, end)
    if loading and "dump_file" not in extra:
        extra["dump_file"] = loading.group(1)
    attributes = re.search(r"DUMP_FILE_ATTRIBUTES:[^\n]*\n[ \t]+([^\n]*Dump[^\n]*)", text[start:end])
    if attributes:
        extra["dump_type"] = attributes.group(1).strip()
    uptime = _UPTIME.search(text, start, end)
    if uptime:
        extra["system_uptime"] = uptime.group(1)
    faulting_ip = _faulting_ip(fields, text, end)
    if faulting_ip:
        extra["faulting_ip"] = faulting_ip
        extra["faulting_module"] = faulting_ip.split("!", 1)[0]
    stack = list(dict.fromkeys(m.group(1) for m in _DRIVER_OBJECT.finditer(text, start, end)))
    if stack:
        # !devstack / !irp / !devobj output: the drivers of the device that held the (power) IRP.
        extra["device_stack"] = stack[:32]
    whea = _WHEA_ERROR.search(text, start, end)
    if whea:
        extra["whea_error"] = {
            "error": whea.group(1),
            "processor": int(whea.group(2)),
            "bank": int(whea.group(3)),
        }
    unverified = sorted({m.group(1) for m in _UNVERIFIED.finditer(text, start, end)})
    if unverified:
        extra["unverified_timestamp_modules"] = unverified
    if fields.keys:
        extra["key_values"] = {k: v[:300] for k, v in list(fields.keys.items())[:_MAX_KEYS]}


def _faulting_ip(fields: Fields, text: str, end: int) -> str | None:
    """``module!symbol`` of the faulting instruction, from FAULTING_IP / FOLLOWUP_IP or else the symbol
    line that ends a trap frame, context or exception record listing."""
    for tag in ("FAULTING_IP", "FOLLOWUP_IP"):
        value = fields.tag(tag)
        if value and "!" in value:
            return value.split()[0]
    for tag in ("TRAP_FRAME", "CONTEXT", "EXCEPTION_RECORD"):
        anchor = fields.tags.get(tag)
        if anchor is None:
            continue
        symbol = _SYMBOL_LINE.search(text, anchor.start, min(end, anchor.start + 3000))
        if symbol:
            return f"{symbol.group(1)}!{symbol.group(2)}"
    return None
