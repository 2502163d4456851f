"""Texts of the findings a job's outcome gives (not analysed, failed), in English and Chinese.

Data: ``data/job_outcomes.json``, one entry per finding code, each text as ``[english, chinese]``.
"""

from __future__ import annotations

import json
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "job_outcomes.json"

OUTCOMES: dict[str, dict[str, object]] = json.loads(DATA_FILE.read_text(encoding="utf-8"))


def outcome_text(code: str, field: str, **values: str) -> tuple[str, str]:
    """The entry's ``field`` in English and Chinese, with ``values`` filled in."""
    english, chinese = OUTCOMES[code][field]  # type: ignore[misc]
    return str(english).format(**values), str(chinese).format(**values)
