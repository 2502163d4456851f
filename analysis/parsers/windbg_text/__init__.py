"""WinDbg `!analyze -v` text and pasted `kd>` stacks -> crashes.

Reference: research/analysis-spec.md section 1.2 (classic and Key/Value field styles, user-mode
Exception Analysis) and the WinDbg `!analyze` / `k` documentation; the public pastes in
../shared/samples/windbg_text are the regression set. Values cut off in a paste are None, never guessed.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

from analysis.parsers._textio import parse_text_file
from analysis.parsers.result import Crash, ParseResult
from analysis.parsers.windbg_text import _segments, _windows_forms
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
    try:
        crashes.extend(_other_forms(text, crashes))
    except Exception as exc:  # a reader bug costs these forms, not the analyses already read
        errors.append(f"crash lines could not be read: {type(exc).__name__}: {exc}")
    if not crashes and not errors:
        errors.append(_NO_CRASH + _hint(text))
    mentioned = _drivers_mentioned(text)
    if mentioned:
        crashes = [replace(c, extra={**c.extra, "drivers_mentioned": mentioned}) for c in crashes]
    return crashes, errors


_DRIVER_FILE = re.compile(r"(?<![A-Za-z0-9_.\-])([A-Za-z0-9_\-]{2,64}\.sys)(?![A-Za-z0-9_])", re.I)


def _drivers_mentioned(text: str) -> list[str]:
    """Driver files the paste names anywhere (a path in prose, an lm row, IMAGE_NAME), first spelling kept."""
    names: dict[str, str] = {}
    for match in _DRIVER_FILE.finditer(text):
        names.setdefault(match.group(1).lower(), match.group(1))
        if len(names) >= 100:
            break
    return sorted(names.values(), key=str.lower)


def _other_forms(text: str, analysed: list[Crash]) -> list[Crash]:
    """Crashes written as Windows and its tools write them, less those an analysis above already gives."""
    out: list[Crash] = []
    for found in _windows_forms.find(text):
        twin = next((i for i, crash in enumerate(analysed) if _same_crash(found, crash)), None)
        if twin is not None:
            analysed[twin] = _fill(analysed[twin], found)
            continue
        extra = dict(found.extra)
        extra["text_form"] = found.form
        if found.bugcheck_code is None and found.bugcheck_name is None:
            extra["analysis"] = "user"
            out.append(
                Crash(
                    exception_code=found.exception_code,
                    exception_address=found.exception_address,
                    process_name=found.process_name,
                    culprit_module=found.culprit_module,
                    culprit_reason=found.culprit_reason,
                    extra=extra,
                )
            )
            continue
        extra["analysis"] = "kernel"
        out.append(
            Crash(
                bugcheck_code=found.bugcheck_code,
                bugcheck_name=found.bugcheck_name,
                parameters=found.parameters,
                process_name=found.process_name,
                culprit_module=found.culprit_module,
                culprit_reason=found.culprit_reason,
                os_build=found.os_build,
                extra=extra,
            )
        )
    return out


def _fill(crash: Crash, found: _windows_forms.FormCrash) -> Crash:
    """The same crash told twice (a stack's KeBugCheckEx arguments and `.bugcheck`): keep every value."""
    params = crash.parameters
    if found.parameters and len(found.parameters) == len(params):
        params = tuple(a if a is not None else b for a, b in zip(params, found.parameters, strict=True))
    elif found.parameters and not params:
        params = found.parameters
    return replace(
        crash,
        parameters=params,
        bugcheck_name=crash.bugcheck_name or found.bugcheck_name,
        culprit_module=crash.culprit_module or found.culprit_module,
        culprit_reason=crash.culprit_reason or found.culprit_reason,
        os_build=crash.os_build or found.os_build,
    )


def _same_crash(found: _windows_forms.FormCrash, crash: Crash) -> bool:
    if found.bugcheck_code is not None and crash.bugcheck_code is not None:
        if int(found.bugcheck_code, 16) != int(crash.bugcheck_code, 16):
            return False
        pairs = zip(found.parameters, crash.parameters, strict=False)
        return all(a is None or b is None or int(a, 16) == int(b, 16) for a, b in pairs)
    if found.exception_code is not None and crash.exception_code is not None:
        return found.exception_code == crash.exception_code
    if found.bugcheck_name is not None and crash.bugcheck_name is not None:
        return found.bugcheck_name == crash.bugcheck_name
    return False


def _hint(text: str) -> str:
    if _segments.BANNER.search(text):
        return " (an analysis banner is present but the facts after it are missing; cut off?)"
    if re.search(r"\S", text) is None:
        return " (the file is empty)"
    return ""
