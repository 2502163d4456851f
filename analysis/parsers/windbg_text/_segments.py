"""Splitting a text into the separate `!analyze` runs it holds (one crash each).

An analysis prints, in this order: the dump-load `BugCheck X, {..}` line, the `kd> !analyze -v`
command, the star-box banner, the `NAME (code)` heading, KEY_VALUES_STRING, BUGCHECK_CODE. Seeing one of
these again, or an earlier one after a later one, means the next analysis has begun.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BUGCHECK_LINE = re.compile(r"(?:(?<=\s)|^)BugCheck ([0-9A-Fa-f]{1,8}), \{([^}\n]*)(\}?)")
BANNER = re.compile(r"\*[ \t]*(Bugcheck|Exception) Analysis[ \t]*\*")
HEADING = re.compile(r"(?m)^[ \t]*([A-Z][A-Z0-9]*+_[A-Z0-9_]*+) \(([0-9a-fA-F]{1,8})\)[ \t]*$")
# In a paste whose line breaks were lost, a heading is known by the Arguments list that follows it.
FLAT_HEADING = re.compile(
    r"(?:(?<=\s)|^)([A-Z][A-Z0-9]*+_[A-Z0-9_]*+) \(([0-9a-fA-F]{1,8})\)(?=\s[^\n]{0,1200}?Arguments:)"
)
_ANALYZE_COMMAND = re.compile(r">[ \t]*!analyze\b")
_KEY_VALUES = re.compile(r"(?:(?<=\s)|^)KEY_VALUES_STRING:")
_BUGCHECK_CODE = re.compile(r"(?:(?<=\s)|^)BUGCHECK_CODE:")

_ORDER = {"line": 0, "command": 1, "banner": 2, "heading": 3, "keys": 4, "code": 5}


@dataclass(frozen=True)
class Segment:
    start: int
    end: int


def find_headings(text: str) -> list[re.Match[str]]:
    found = list(HEADING.finditer(text))
    positions = {m.start(1) for m in found}
    found += [m for m in FLAT_HEADING.finditer(text) if m.start(1) not in positions]
    return sorted(found, key=lambda m: m.start())


def split(text: str, headings: list[re.Match[str]]) -> list[Segment]:
    """Segments covering the text; text before the first analysis belongs to the first one."""
    anchors: list[tuple[int, str]] = []
    anchors += [(m.start(), "line") for m in BUGCHECK_LINE.finditer(text)]
    anchors += [(m.start(), "command") for m in _ANALYZE_COMMAND.finditer(text)]
    anchors += [(m.start(), "banner") for m in BANNER.finditer(text)]
    anchors += [(m.start(), "heading") for m in headings]
    anchors += [(m.start(), "keys") for m in _KEY_VALUES.finditer(text)]
    anchors += [(m.start(), "code") for m in _BUGCHECK_CODE.finditer(text)]
    anchors.sort()
    starts = [0]
    highest = -1
    for position, kind in anchors:
        rank = _ORDER[kind]
        if rank <= highest:
            starts.append(position)
            highest = rank
        else:
            highest = max(highest, rank)
    bounds = [*starts[1:], len(text)]
    return [Segment(s, e) for s, e in zip(starts, bounds, strict=True)]
