"""Loaded-module lists pasted with an analysis: WinDbg `lm`, `lm n`, `lm t n` output.

Reference: the WinDbg `lm` documentation (columns: start, end, module name, then with `n` the image
name and with `t` the link date and the TimeDateStamp in parentheses). A row without an image name keeps
the module name as WinDbg shows it; nothing is guessed.
"""

from __future__ import annotations

import re

from analysis.parsers.result import Module

_HEADER = re.compile(r"(?m)^[ \t]*start[ \t]+end[ \t]+module name[ \t]*$")
_ROW = re.compile(
    r"^[ \t]*(?P<start>[0-9a-fA-F]{8}(?:`?[0-9a-fA-F]{8})?)[ \t]+(?P<end>[0-9a-fA-F]{8}(?:`?[0-9a-fA-F]{8})?)"
    r"[ \t]+(?P<module>[A-Za-z0-9_.\-]+)(?P<rest>[^\n]*)$"
)
_IMAGE = re.compile(r"(?i)\b([A-Za-z0-9_.\-]+\.(?:sys|exe|dll))\b")
_STAMP = re.compile(r"\(([0-9a-fA-F]{8})\)")
_MAX_ROWS = 5000  # a full module list of a kernel dump has a few hundred rows


def find_modules(text: str, start: int, end: int) -> tuple[Module, ...]:
    """The modules of every `lm` listing between start and end, in listing order, without repeats."""
    modules: dict[str, Module] = {}
    for header in _HEADER.finditer(text, start, end):
        for line in text[header.end() : end].lstrip("\n").splitlines():
            row = _ROW.match(line)
            if row is None or len(modules) >= _MAX_ROWS:
                break
            module = _module(row)
            if module is not None:
                modules.setdefault(module.name.lower(), module)
    return tuple(modules.values())


def _module(row: re.Match[str]) -> Module | None:
    base = int(row["start"].replace("`", ""), 16)
    limit = int(row["end"].replace("`", ""), 16)
    if limit <= base:
        return None
    image = _IMAGE.search(row["rest"])
    stamp = _STAMP.search(row["rest"])
    return Module(
        name=image.group(1) if image else row["module"],
        base=f"0x{base:x}",
        size=limit - base,
        timestamp=f"0x{int(stamp.group(1), 16):08x}" if stamp else None,
    )
