"""Shared helpers for the text and event-log parser tests: where the public samples live, sidecars."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("PORTAL_SAMPLES_DIR", REPO_ROOT.parent / "shared" / "samples"))
SEED_CASE = SAMPLES.parent / "seed" / "case-CAS-08433.txt"
ABSENT = f"public samples not found at {SAMPLES} (set PORTAL_SAMPLES_DIR to run these tests)"


def sample_params(folder: str, pattern: str) -> list[Any]:
    """pytest params for each sample file, or one skipped param when the samples are absent."""
    files = sorted((SAMPLES / folder).glob(pattern)) if (SAMPLES / folder).is_dir() else []
    if not files:
        return [pytest.param(None, marks=pytest.mark.skip(reason=ABSENT), id=f"{folder}-absent")]
    return [pytest.param(path, marks=pytest.mark.samples, id=path.name) for path in files]


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
