"""`.env.example` lists every variable the settings module reads (STYLE.md rule 8)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Read for backward compatibility only; the example documents the new name (TRUSTED_PROXY_COUNT).
LEGACY = {"AXES_BEHIND_PROXY"}


def test_every_setting_from_the_environment_is_in_env_example():
    read = set(
        re.findall(r'env_(?:str|bool|int|list)\("([A-Z0-9_]+)"', (ROOT / "config/settings.py").read_text())
    )
    listed = set(re.findall(r"^([A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert sorted(read - listed - LEGACY) == []
