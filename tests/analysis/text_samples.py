"""Shared helpers for the text and event-log parser tests: sidecars and excerpts of the public samples."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.samples import ABSENT


def require(path: Path | None) -> Path:
    if path is None or not path.exists():
        pytest.skip(ABSENT)
    return path


def sidecar(path: Path) -> dict[str, Any]:
    """The sample's ground truth: `<file>.json` for binaries, `<stem>.json` for text files."""
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.exists():
            data: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return data
    raise FileNotFoundError(f"no sidecar for {path}")


def excerpt_body(path: Path) -> str:
    """The pasted text without the thread header (repository line, labels, '# title') around it."""
    text = path.read_text(encoding="utf-8", errors="replace")
    match = re.search(r"(?m)^# .*$", text)
    return text[match.end() :] if match else text


def first_token(value: Any) -> str | None:
    """'0x50 (from KeBugCheckEx ...)' -> '0x50'; annotated ground truth keeps its value first."""
    if value is None:
        return None
    return str(value).split()[0]


def annotated(value: Any) -> bool:
    """Ground-truth values with a '(where it came from)' note were not read from the excerpt itself."""
    return isinstance(value, str) and " (" in value


def same_number(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return int(a, 16) == int(b, 16)
