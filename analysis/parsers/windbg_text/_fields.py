"""Tagged fields of `!analyze -v` output: `TAG: value` lines, `Key : / Value:` pairs, `ArgN:` lines.

Reference: research/analysis-spec.md section 1.2 (old and new field styles) and the WinDbg
`!analyze` documentation; the parsing rule there is "never depend on field order".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TAG = re.compile(r"(?:(?<=\s)|^)([A-Z][A-Z0-9_]{2,}):(?=[ \t\n]|$)")
# Where a flattened value stops: the next tag or the next `Key :` pair.
_NEXT_TAG = re.compile(r"\s(?:[A-Z][A-Z0-9_]{3,}:(?=\s)|Key\s*:\s)")
_KEY_VALUE = re.compile(
    r"(?:(?<=\s)|^)Key\s*:\s*(\S+)\s+Value\s*:[ \t]*([^\n]*?)"
    r"(?=\s+Key\s*:|\s[A-Z][A-Z0-9_]{3,}:\s|[ \t]*\n|[ \t]*$)"
)
_ARG = re.compile(r"(?:(?<=\s)|^)Arg([1-4]):[ \t]*([0-9a-fA-F`]+)(?=[\s,]|$)(\s*,)?")

_MAX_VALUE = 4096
# Tags whose value is printed on the following line(s) when their own line is empty.
NEXT_LINE_TAGS = {"FAULTING_IP", "FOLLOWUP_IP", "EXCEPTION_RECORD", "CONTEXT", "TRAP_FRAME"}


@dataclass
class Value:
    text: str | None  # None when cut off at the end of the paste
    start: int
    cut: bool = False


@dataclass
class Fields:
    tags: dict[str, Value] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    args: dict[int, Value] = field(default_factory=dict)
    cut_off: list[str] = field(default_factory=list)

    def tag(self, name: str) -> str | None:
        value = self.tags.get(name)
        return value.text if value else None


class _OpenEnd:
    """A value that reaches the end of a paste with no final line break may have lost characters."""

    def __init__(self, text: str) -> None:
        self.end = None if text.endswith("\n") else len(text.rstrip(" \t"))

    def __call__(self, value_end: int) -> bool:
        return self.end is not None and value_end >= self.end


def collect(text: str, start: int, end: int) -> Fields:
    """All tags, key/value pairs and ArgN values in text[start:end]; the first occurrence wins."""
    fields = Fields()
    runs_to_end = _OpenEnd(text)
    for match in _TAG.finditer(text, start, end):
        name = match.group(1)
        if name in fields.tags:
            continue
        # Bounded look-ahead: a flattened paste is one huge line, and scanning it per tag is quadratic.
        limit = min(end, match.end() + _MAX_VALUE)
        line_end = text.find("\n", match.end(), limit)
        line_end = limit if line_end == -1 else line_end
        value_start = match.end()
        raw = text[value_start:line_end]
        stop = _NEXT_TAG.search(raw)
        if stop:
            raw = raw[: stop.start()]
            line_end = value_start + stop.start()
        if not raw.strip() and name in NEXT_LINE_TAGS:
            limit = min(end, line_end + 1 + _MAX_VALUE)
            following = text.find("\n", line_end + 1, limit)
            following = limit if following == -1 else following
            value_start, line_end = line_end + 1, following
            raw = text[value_start:line_end] if value_start < following else ""
        stripped = raw.strip()
        if stripped and runs_to_end(line_end):
            fields.tags[name] = Value(None, value_start, cut=True)
            fields.cut_off.append(name)
        else:
            fields.tags[name] = Value(stripped or None, value_start)
    for match in _KEY_VALUE.finditer(text, start, end):
        key, raw = match.group(1), match.group(2)
        if runs_to_end(match.end()):
            fields.cut_off.append(f"Key {key}")
            continue
        fields.keys.setdefault(key, raw.strip())
    for match in _ARG.finditer(text, start, end):
        index = int(match.group(1))
        if index in fields.args:
            continue
        digits = match.group(2)
        # Full pointer width cannot have lost digits; anything shorter at the very end may have.
        complete = bool(match.group(3)) or not runs_to_end(match.end(2)) or len(digits.replace("`", "")) == 16
        fields.args[index] = Value(digits if complete else None, match.start(2), cut=not complete)
    _check_arg_widths(fields)
    return fields


def _check_arg_widths(fields: Fields) -> None:
    """`ArgN:` values are zero-padded to pointer width; a shorter one at the end was cut mid-hex."""
    widths = {len(v.text.replace("`", "")) for v in fields.args.values() if v.text and not v.cut}
    width = max(widths) if widths else 0
    for index, value in fields.args.items():
        if value.cut and f"Arg{index}" not in fields.cut_off:
            fields.cut_off.append(f"Arg{index}")
        if value.text is None:
            continue
        length = len(value.text.replace("`", ""))
        if length not in (8, 16) or (width and length < width):
            value.text, value.cut = None, True
            fields.cut_off.append(f"Arg{index}")
