"""Knowledge applied to a parser's crashes: bug check names, module origin and vendor, culprit fallback
and signatures. Parsers report facts; this layer adds what the knowledge tables say about them.
"""

from __future__ import annotations

from dataclasses import replace

from analysis.parsers.result import Crash, Frame, Module, Origin, ParseResult
from analysis.rules import signatures
from analysis.tables import drivers, knowledge

# Frames that only show the kernel handling a fault; never a culprit (analysis-spec B.1 D4).
_HANDLER_FRAMES = signatures.IRRELEVANT


def enrich_result(result: ParseResult) -> ParseResult:
    """The result with every crash enriched and every crash and event labelled with the file and kind it
    came from, so case-wide findings can say which file shows what (pure: returns a new result)."""
    if not result.crashes and not result.events:
        return result
    user_mode = result.kind == "user_dump"
    source = {"source_file": result.file, "source_kind": result.kind}
    crashes = tuple(
        enrich_crash(replace(crash, extra={**crash.extra, **source}), user_mode=user_mode)
        for crash in result.crashes
    )
    events = tuple(replace(event, data={**event.data, **source}) for event in result.events)
    return replace(result, crashes=crashes, events=events)


def enrich_crash(crash: Crash, *, user_mode: bool = False) -> Crash:
    if crash.bugcheck_code is None and crash.bugcheck_name and crash.exception_code is None:
        # A stop screen gives the name only; the code follows from the table, and says so.
        number = knowledge.code_for_name(crash.bugcheck_name)
        if number is not None:
            extra = {**crash.extra, "bugcheck_code_source": "the bug check name (knowledge table)"}
            crash = replace(crash, bugcheck_code=f"0x{number:08x}", extra=extra)
    name = crash.bugcheck_name
    if name is None and crash.bugcheck_code:
        name = knowledge.bugcheck_name(crash.bugcheck_code)
    is_kernel = crash.bugcheck_code is not None
    modules = tuple(_classify(module, user_mode=user_mode or not is_kernel) for module in crash.modules)
    culprit, reason = crash.culprit_module, crash.culprit_reason
    if is_kernel:
        culprit, reason = _kernel_culprit(crash, modules)
    enriched = replace(
        crash, bugcheck_name=name, modules=modules, culprit_module=culprit, culprit_reason=reason
    )
    if not crash.signatures:
        enriched = replace(enriched, signatures=signatures.compute(enriched))
    return enriched


def _classify(module: Module, *, user_mode: bool) -> Module:
    vendor = drivers.vendor_info(module.name)
    origin: Origin
    if module.origin != "unknown" and module.origin_reason:
        origin, reason = module.origin, module.origin_reason
    elif user_mode:
        origin, reason = drivers.classify_user_module(module.path or module.name)
    else:
        origin, reason = drivers.classify_module(module.name, module.timestamp)
    return replace(
        module,
        origin=origin,
        origin_reason=reason,
        vendor=module.vendor or (vendor.vendor if vendor else None),
        vendor_class=module.vendor_class or (vendor.vendor_class if vendor else None),
    )


def _origin_of(name: str, modules: tuple[Module, ...]) -> str:
    wanted = drivers.canonical(name)
    for module in modules:
        if drivers.canonical(module.name) == wanted:
            return module.origin
    return drivers.classify_module(name)[0]


def _kernel_culprit(crash: Crash, modules: tuple[Module, ...]) -> tuple[str | None, str | None]:
    """Never name nt/hal as the driver; fall back to the first third-party module on the stack."""
    culprit, reason = crash.culprit_module, crash.culprit_reason
    if culprit and not drivers.is_windows_kernel(culprit):
        return culprit, reason
    third = _first_third_party(crash.stack, modules)
    if culprit:
        where = culprit
        if third:
            return third, f"fault inside Windows ({where}); first third-party module on the stack is {third}"
        return None, f"fault inside Windows ({where}); culprit not on the stack"
    if reason:
        return None, reason
    if third:
        return third, f"first third-party module on the stack is {third}"
    if crash.stack:
        return None, "no third-party module on the stack; culprit not determined"
    return None, None


# The user-mode half of a kernel stack (a system call's caller) is context, never a driver to blame:
# the reference case's 0xBE stack ends in smss.exe, which a name list would call "not a driver".
_USER_SPACE_END_64 = 0x0000_8000_0000_0000


def _is_user_mode_frame(frame: Frame) -> bool:
    if drivers.is_windows_user_image(frame.module or ""):
        return True
    try:
        address = int(frame.address or "", 16)
    except ValueError:
        return False
    # Only 64-bit addresses are judged: a 32-bit kernel's split (2 or 3 GB) is not known from a frame.
    return 0xFFFF_FFFF < address < _USER_SPACE_END_64


def _first_third_party(stack: tuple[Frame, ...], modules: tuple[Module, ...]) -> str | None:
    for frame in stack:
        if not frame.module or _is_user_mode_frame(frame):
            continue
        key = f"{drivers.canonical(frame.module)}!{(frame.symbol or '').lower()}"
        if key in _HANDLER_FRAMES or drivers.is_windows_kernel(frame.module):
            continue
        if _origin_of(frame.module, modules) == "third_party" or drivers.diagnostic_info(frame.module):
            return frame.module
    return None
