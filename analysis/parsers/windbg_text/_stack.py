"""Stack lines as the debugger's `k`-family commands and `!analyze` STACK_TEXT print them.

Reference: the WinDbg `k` command documentation (columns Child-SP / RetAddr / Args to Child /
Call Site on x64, ChildEBP / RetAddr / Args on x86) and the pasted outputs in ../shared/samples.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from analysis.parsers._textio import hex_value
from analysis.parsers.result import Frame

_ADDR = r"(?:[0-9a-fA-F]{8}(?:`?[0-9a-fA-F]{8})?|-{8}`-{8})"
_SITE = r"(?P<site>[^\s:][^\s]*)"
# Colon form: works whether or not line breaks survived the paste (flattened text).
_COLON_FRAME = re.compile(
    r"(?:(?<=\s)|^)(?:[0-9a-fA-F]{2}\s+)?"
    rf"(?P<sp>{_ADDR}|\(Inline Function\))\s+(?P<ret>{_ADDR})\s*:\s*"
    rf"(?P<args>(?:{_ADDR}\s+){{1,4}}?)\s*:\s*{_SITE}",
)
# Line form without colons: `k`, `kn`, and x86 `kb` (three args) / old x86 STACK_TEXT.
_LINE_FRAME = re.compile(
    r"(?m)^[ \t]*(?:[0-9a-fA-F]{2}[ \t]+)?"
    rf"(?P<sp>{_ADDR})[ \t]+(?P<ret>{_ADDR})[ \t]+"
    rf"(?P<args>(?:{_ADDR}[ \t]+){{0,4}}?){_SITE}[ \t]*(?:\(.*\))?[ \t]*$",
)
_SITE_SYMBOL = re.compile(
    r"^(?P<module>[A-Za-z0-9_.$\-]+)!(?P<symbol>.+?)(?:\+(?P<offset>(?:0x)?[0-9a-fA-F`]+))?$"
)
_SITE_MODULE = re.compile(r"^(?P<module>[A-Za-z_][A-Za-z0-9_.$\-]*)\+(?P<offset>0x[0-9a-fA-F`]+)$")
_SITE_ADDRESS = re.compile(r"^0x[0-9a-fA-F`]{1,17}$")

BUGCHECK_FUNCTIONS = {"KeBugCheckEx", "KeBugCheck"}
KERNEL_MODULES = {"nt", "ntoskrnl", "ntkrnlmp", "ntkrnlpa", "ntkrpamp"}


@dataclass(frozen=True)
class RawFrame:
    start: int
    end: int
    child_sp: str | None
    return_address: str | None
    args: tuple[str, ...]
    frame: Frame


def split_site(site: str) -> tuple[str | None, str | None, str | None, str | None] | None:
    """`module!symbol+0xoff` -> (module, symbol, offset, address); None if it is no call site."""
    site = site.rstrip(",;")
    if _SITE_ADDRESS.match(site):
        return None, None, None, hex_value(site)
    match = _SITE_SYMBOL.match(site)
    if match:
        # The debugger omits "+0x0"; a symbol without offset is its first instruction.
        offset = hex_value(match["offset"]) if match["offset"] else "0x0"
        return match["module"], match["symbol"], offset, None
    match = _SITE_MODULE.match(site)
    if match:
        return match["module"], None, hex_value(match["offset"]), None
    return None


def _candidates(text: str, start: int, end: int) -> list[tuple[int, int, re.Match[str]]]:
    found = [(m.start(), m.end(), m) for m in _COLON_FRAME.finditer(text, start, end)]
    if not found:
        found = [(m.start(), m.end(), m) for m in _LINE_FRAME.finditer(text, start, end)]
    return found


def find_frames(text: str, start: int = 0, end: int | None = None) -> list[RawFrame]:
    """Every stack line in text[start:end], in order, with its parsed call site."""
    end = len(text) if end is None else end
    frames: list[RawFrame] = []
    previous_ret: str | None = None
    last_end = -1
    open_end = len(text.rstrip()) if not text.endswith("\n") else None
    for begin, finish, match in _candidates(text, start, end):
        parts = split_site(match["site"])
        if parts is None:
            continue
        # A frame at the very end of a cut paste may have lost characters of its call site.
        if open_end is not None and finish >= open_end:
            continue
        module, symbol, offset, address = parts
        if previous_ret is None or text[last_end:begin].strip():
            previous_ret = None  # a new, unrelated stack: no caller to take the address from
        if address is None and previous_ret is not None:
            # The caller's return address is the point in this frame where execution continues.
            address = previous_ret
        ret = match["ret"]
        ret_hex = None if ret.startswith("-") else hex_value(ret)
        sp = match["sp"]
        sp_hex = None if sp.startswith(("-", "(")) else hex_value(sp)
        args = tuple(a for a in match["args"].split() if a)
        frames.append(
            RawFrame(
                start=begin,
                end=finish,
                child_sp=sp_hex,
                return_address=ret_hex,
                args=args,
                frame=Frame(module=module, symbol=symbol, offset=offset, address=address),
            )
        )
        previous_ret = ret_hex
        last_end = finish
    return frames


def first_run(frames: list[RawFrame], text: str, after: int = 0) -> list[RawFrame]:
    """The first contiguous block of frames starting at or after `after` (one stack, not several)."""
    run: list[RawFrame] = []
    for raw in frames:
        if raw.start < after:
            continue
        if run and text[run[-1].end : raw.start].strip():
            break
        run.append(raw)
    return run


def bugcheck_from_stack(run: list[RawFrame]) -> tuple[str, tuple[str | None, ...]] | None:
    """Code and parameters from the arguments of the stack's nt!KeBugCheckEx frame.

    At the top of the stack with offset 0 the frame's first four arguments are the code and P1-P3. Lower
    down (below the debugger's break-in frames, or an x86 `kb` showing three arguments) only the code,
    P1 and P2 are trusted: the later slots may already hold other values.
    """
    for position, head in enumerate(run):
        frame = head.frame
        module = (frame.module or "").lower()
        symbol = (frame.symbol or "").lstrip("_")
        if module not in KERNEL_MODULES or symbol not in BUGCHECK_FUNCTIONS:
            continue
        values = [hex_value(a) for a in head.args if not a.startswith("-")]
        if len(values) < 2 or values[0] is None:
            return None
        at_entry = position == 0 and frame.offset == "0x0"
        params: list[str | None] = list(values[1:4] if at_entry else values[1:3])
        params += [None] * (4 - len(params))
        return values[0], tuple(params)
    return None
