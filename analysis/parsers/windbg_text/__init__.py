"""WinDbg `!analyze -v` text and pasted `kd>` stacks -> crashes.

Reference: research/analysis-spec.md section 1.2 (classic and Key/Value field styles, user-mode
Exception Analysis) and the WinDbg `!analyze` / `k` documentation; the public pastes in
../shared/samples/windbg_text are the regression set. Values cut off in a paste are None, never guessed.
"""

from __future__ import annotations

import os
import re

from analysis.parsers._textio import parse_text_file
from analysis.parsers.result import Crash, ParseResult
from analysis.parsers.windbg_text import _segments
from analysis.parsers.windbg_text._assemble import build_crash

__all__ = ["parse", "parse_text"]

_NO_CRASH = (
    "no crash found: the text holds no WinDbg !analyze output, bug check code or arguments, "
    "exception record or kd> stack"
)


def parse(path: str | os.PathLike[str]) -> ParseResult:
    """Parse a text file holding one or more `!analyze -v` outputs or kd> stacks; never raises."""
    return parse_text_file(path, "windbg_text", parse_text)


def parse_text(text: str) -> tuple[list[Crash], list[str]]:
    """The crashes in already normalised text, and the errors met (no crash, internal failures)."""
    crashes: list[Crash] = []
    errors: list[str] = []
    headings = _segments.find_headings(text)
    for segment in _segments.split(text, headings):
        try:
            crash = build_crash(text, segment.start, segment.end, headings)
        except Exception as exc:  # a parser bug must cost one analysis, not the whole file
            errors.append(
                f"analysis at offset {segment.start} could not be read: {type(exc).__name__}: {exc}"
            )
            continue
        if crash is not None:
            crashes.append(crash)
    if not crashes and not errors:
        errors.append(_NO_CRASH + _hint(text))
    return crashes, errors


def _hint(text: str) -> str:
    if _segments.BANNER.search(text):
        return " (an analysis banner is present but the facts after it are missing; cut off?)"
    if re.search(r"\S", text) is None:
        return " (the file is empty)"
    return ""
