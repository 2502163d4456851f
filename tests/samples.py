"""Where the public samples live, found one way for every test and benchmark that reads them.

``PORTAL_SAMPLES_DIR`` names the folder; by default it is ``../shared/samples`` beside the project, with the
seed case in its sibling ``seed/``. Tests reach a file through the ``samples`` fixture (tests/conftest.py),
or, when the files choose the parameters at collection time, through ``sample_params``: either way they
carry the ``samples`` marker and skip with the reason when the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = Path(os.environ.get("PORTAL_SAMPLES_DIR") or REPO_ROOT.parent / "shared" / "samples")
SEED_DIR = SAMPLES_DIR.parent / "seed"
SEED_CASE = SEED_DIR / "case-CAS-08433.txt"
ABSENT = f"public samples not found at {SAMPLES_DIR} (set PORTAL_SAMPLES_DIR to run these tests)"


def samples_present() -> bool:
    return SAMPLES_DIR.is_dir()


def sample_path(relative: str | Path) -> Path:
    """A file of the samples folder (or of the seed folder beside it); skips the test when it is absent."""
    path = SAMPLES_DIR / relative
    if not path.exists():
        pytest.skip(f"{ABSENT}: no {relative}")
    return path


def sample_files(folder: str, pattern: str = "*") -> list[Path]:
    """The sample files of one folder (sidecars left out); empty when the folder is absent."""
    base = SAMPLES_DIR / folder
    if not base.is_dir():
        return []
    return sorted(p for p in base.glob(pattern) if p.is_file() and not p.name.endswith(".json"))


def sample_params(folder: str, pattern: str = "*") -> list[Any]:
    """pytest params for each sample file, marked ``samples``, or one skipped param when they are absent."""
    files = sample_files(folder, pattern)
    if not files:
        skipped = [pytest.mark.samples, pytest.mark.skip(reason=ABSENT)]
        return [pytest.param(None, marks=skipped, id=f"{folder}-absent")]
    return [pytest.param(path, marks=pytest.mark.samples, id=path.name) for path in files]
