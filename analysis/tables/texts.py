"""Finding texts kept as data, in English and Chinese: ``data/<table>.json``, one entry per finding code,
each text a ``[english, chinese]`` pair whose ``{placeholders}`` the rules fill in.

Tables: ``job_outcomes`` (not analysed, analysis failed), ``crash_categories`` (what a bug check's category
says: hardware, storage, power, watchdog, Driver Verifier, graphics, critical process).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import cast

DATA_DIR = Path(__file__).with_name("data")


@cache
def text_table(name: str) -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = json.loads((DATA_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return table


def bilingual(table: str, code: str, field: str, **values: str | tuple[str, str]) -> tuple[str, str]:
    """The entry's ``field`` in English and Chinese, with ``values`` filled in (the same in both, or as
    ``(english, chinese)`` pairs)."""
    english, chinese = cast(list[str], text_table(table)[code][field])
    en = {key: value[0] if isinstance(value, tuple) else value for key, value in values.items()}
    zh = {key: value[1] if isinstance(value, tuple) else value for key, value in values.items()}
    return str(english).format(**en), str(chinese).format(**zh)
