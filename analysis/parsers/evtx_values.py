"""Values out of the JSON the evtx reader gives for a record (``#attributes``, ``#text``, EventData lists
and maps), read defensively: a malformed record gives None or an empty value, never an exception.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime
from typing import Any

# Invisible bidirectional marks that event values can carry around names and numbers.
_INVISIBLE = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e"), None)


def node_attributes(node: Any) -> dict[str, Any]:
    if isinstance(node, dict):
        attrs = node.get("#attributes")
        if isinstance(attrs, dict):
            return attrs
    return {}


def node_text(node: Any) -> Any:
    return node.get("#text") if isinstance(node, dict) else node


def data_list(data: dict[str, Any]) -> list[str]:
    node = data.get("Data")
    node = node_text(node)
    if isinstance(node, list):
        return ["" if v is None else clean_text(str(v)) for v in node]
    if isinstance(node, (str, int)):
        return [clean_text(str(node))]
    return []


def clean_text(value: str) -> str:
    # Windows puts left-to-right marks into localised date strings (6008's "\u200e4/\u200e6/...").
    return value.translate(_INVISIBLE)


def data_strings(data: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for key, value in data.items():
        if key == "Binary":
            continue
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, (list, dict)):
            node = node_text(value)
            items = node if isinstance(node, list) else [node]
            found += [str(v) for v in items if isinstance(v, (str, int))]
    return found


def data_scalars(data: dict[str, Any]) -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for key, value in data.items():
        if key in ("RawData", "Binary") or key.startswith("#"):
            continue
        if isinstance(value, (int, float, bool)) or (isinstance(value, str) and len(value) <= 256):
            facts[key] = value
    values = data_list(data)
    if values and "Data" in data:
        facts.pop("Data", None)
        facts["data"] = [v[:256] for v in values[:32]]
    return facts


def find_key(node: Any, key: str, depth: int = 0) -> Any:
    if depth > 6 or not isinstance(node, dict):
        return None
    if key in node:
        return node_text(node[key])
    for value in node.values():
        found = find_key(value, key, depth + 1)
        if found is not None:
            return found
    return None


def hex_text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower().replace("`", "")
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) > 16 or any(c not in "0123456789abcdef" for c in text):
        return None
    return hex(int(text, 16))


def code_text(value: Any) -> str | None:
    number = hex_text(value)
    return None if number is None else f"0x{int(number, 16):08x}"


def moment_of(value: str) -> datetime | None:
    match = re.match(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})", value)
    if not match:
        return None
    try:
        year, month, day, hour, minute, second = (int(g) for g in match.groups())
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None


def systemtime_iso(value: str) -> str | None:
    try:
        year, month, _weekday, day, hour, minute, second, _ms = struct.unpack("<8H", bytes.fromhex(value))
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, struct.error):
        return None
