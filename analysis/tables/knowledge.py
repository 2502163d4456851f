"""Bug check knowledge: name, category and parameter meanings of every code.

Data: ``data/bugcheck_codes.csv`` (550 codes), compiled for this project from Microsoft's Bug Check Code
Reference, the kernel live dump code reference and the SDK ``bugcodes.h`` (provenance in
``../shared/research/analysis-spec.md`` section 5). For the 50 most common codes the category and the
parameter texts are hand-written from the per-code pages; for the others the category is a name-keyword
heuristic, so treat it as a hint.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

DATA_FILE = Path(__file__).with_name("data") / "bugcheck_codes.csv"

# The 0x10000000 bit marks the "_M" variants Windows raises for some codes (same meaning as the base).
M_VARIANT_BIT = 0x10000000

# Codes whose P1 is a subtype (analysis-spec C.1); 0xC1 keeps its subtype in P4.
SUBTYPE_CODES: dict[int, int] = {
    0x1A: 0, 0x19: 0, 0xC2: 0, 0x4E: 0, 0x9F: 0, 0xA0: 0, 0x133: 0, 0x139: 0, 0x13A: 0,
    0xC4: 0, 0xC1: 3, 0x10D: 0, 0x119: 0, 0x124: 0, 0x7F: 0, 0x1C7: 0,
}  # fmt: skip

# Parameter index (0-based) holding the faulting instruction address (analysis-spec B.1 D2).
INSTRUCTION_PARAM: dict[int, int] = {
    0x0A: 3,
    0xD1: 3,
    0x1E: 1,
    0x3B: 1,
    0x7E: 1,
    0x8E: 1,
    0x50: 2,
    0xC5: 3,
    0xD5: 2,
    0xD6: 2,
    0xFC: 0,
}

# Codes "of the memory family" for the cross-crash memory rule (analysis-spec B.2 X1).
MEMORY_FAMILY: frozenset[int] = frozenset(
    {0x1A, 0x4E, 0x19, 0xC2, 0xC5, 0x50, 0x0A, 0xBE, 0x139, 0x1E, 0x3B, 0x7E, 0x8E, 0x154, 0x1C7, 0x12B,
     0xD1, 0x7F, 0x109}
)  # fmt: skip
HARDWARE_CODES: frozenset[int] = frozenset({0x124, 0x9C, 0x12B, 0x80, 0x101})
STORAGE_CODES: frozenset[int] = frozenset({0x7A, 0x77, 0x24, 0xED, 0x7B, 0xF4, 0x23})
VERIFIER_CODES: frozenset[int] = frozenset({0xC4, 0xC1, 0xD5, 0xD6, 0xC9, 0xC6, 0xC7, 0xCB})
GRAPHICS_CODES: frozenset[int] = frozenset({0x116, 0x117, 0x119, 0x141, 0xEA, 0x10E})
CRITICAL_PROCESS_CODES: frozenset[int] = frozenset({0xEF, 0xF4, 0xC000021A})
MANUAL_CODES: frozenset[int] = frozenset({0xE2, 0xDEADDEAD, 0x1C8, 0x161})


@dataclass(frozen=True)
class BugcheckInfo:
    code: int
    name: str
    category: str
    parameters: tuple[str, str, str, str]
    summary: str
    is_m_variant: bool = False

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(part for part in self.category.split("|") if part)


@lru_cache(maxsize=1)
def _table() -> dict[int, BugcheckInfo]:
    table: dict[int, BugcheckInfo] = {}
    with DATA_FILE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = int(row["code_hex"], 16)
            params = (row["param1"], row["param2"], row["param3"], row["param4"])
            table[code] = BugcheckInfo(code, row["name"], row["category"], params, row["summary"])
    return table


def parse_code(value: str | int | None) -> int | None:
    """A bug check code given as int, ``0x..`` hex, bare hex (``BE``) or decimal-looking text."""
    if value is None:
        return None
    if isinstance(value, int):
        return value if 0 <= value <= 0xFFFFFFFF else None
    text = value.strip().lower()
    try:
        number = int(text, 16)
    except ValueError:
        return None
    return number if 0 <= number <= 0xFFFFFFFF else None


def base_code(code: int) -> int:
    """The code without the ``_M`` bit (0x1000007E -> 0x7E) when the base code exists."""
    if code & M_VARIANT_BIT and code != 0xDEADDEAD and (code & ~M_VARIANT_BIT) in _table():
        return code & ~M_VARIANT_BIT
    return code


def bugcheck_info(code: str | int | None) -> BugcheckInfo | None:
    """Name, category and parameter meanings of a code; ``_M`` variants say so in the name.

    Returns ``None`` for a code the table does not know (never a guessed name).
    """
    number = parse_code(code)
    if number is None:
        return None
    table = _table()
    if number in table:
        info = table[number]
        if number != base_code(number):
            return BugcheckInfo(info.code, info.name, info.category, info.parameters, info.summary, True)
        return info
    base = base_code(number)
    if base != number and base in table:
        info = table[base]
        name = info.name if info.name.endswith("_M") else f"{info.name}_M"
        return BugcheckInfo(number, name, info.category, info.parameters, info.summary, True)
    return None


@lru_cache(maxsize=1)
def _codes_by_name() -> dict[str, int]:
    return {info.name: code for code, info in _table().items()}


def code_for_name(name: str | None) -> int | None:
    """The code of a bug check named on a stop screen ("Stop code: CRITICAL_PROCESS_DIED")."""
    if not name:
        return None
    return _codes_by_name().get(name.strip().upper())


def bugcheck_name(code: str | int | None) -> str | None:
    info = bugcheck_info(code)
    return info.name if info else None


def categories(code: int) -> tuple[str, ...]:
    info = bugcheck_info(code)
    return info.categories if info else ()


def is_memory_family(code: int) -> bool:
    return base_code(code) in MEMORY_FAMILY or "memory" in categories(code)[:1]


def known_codes() -> int:
    return len(_table())


PARAMETERS_FILE = Path(__file__).with_name("data") / "bugcheck_parameters.json"
_UNDOCUMENTED = {"en": "not documented for this code", "zh": "该代码的此参数没有公开说明"}


@lru_cache(maxsize=1)
def _documented() -> dict[str, dict[str, object]]:
    data = json.loads(PARAMETERS_FILE.read_text(encoding="utf-8"))
    codes: dict[str, dict[str, object]] = data["codes"]
    return codes


def parameter_meanings(
    code: str | int | None, parameters: tuple[str | None, ...], language: str = "en"
) -> list[str]:
    """The documented meaning of each of a bug check's parameters, in English or Chinese ("zh").

    For codes whose first parameter is a subtype, parameters 2-4 mean what that subtype's row says and
    parameter 1 carries the subtype's cause. Source: Microsoft's bug check reference (CC BY 4.0), through
    data/bugcheck_parameters.json; the CSV's own texts fill English gaps. Never guessed: a meaning the
    documentation does not give says so.
    """
    zh = language.startswith("zh")
    number = parse_code(code)
    count = max(len(parameters), 4)
    if number is None:
        return [""] * count
    entry = _documented().get(f"0x{base_code(number):x}", {})
    meanings: list[str] = [""] * 4
    listed = entry.get("parameters_zh" if zh else "parameters") or entry.get("parameters")
    if isinstance(listed, list):
        meanings = [str(text) for text in listed[:4]] + [""] * (4 - len(listed[:4]))
    subtypes = entry.get("subtypes_zh" if zh else "subtypes") or entry.get("subtypes")
    subtype = _subtype_value(number, parameters)
    if isinstance(subtypes, dict) and subtype is not None:
        row = subtypes.get(hex(subtype))
        if isinstance(row, dict):
            cause = str(row.get("cause", ""))
            meanings[0] = (
                f"子类型 {hex(subtype)}：{cause}" if zh else f"subtype {hex(subtype)}: {cause}"
            ).rstrip("：: ")
            for index in (2, 3, 4):
                text = row.get(f"p{index}")
                if text:
                    meanings[index - 1] = str(text)
    if not zh:
        info = bugcheck_info(number)
        if info is not None:
            meanings = [m or info.parameters[i] for i, m in enumerate(meanings)]
    undocumented = _UNDOCUMENTED["zh" if zh else "en"]
    return [m or undocumented for m in meanings] + [undocumented] * (count - 4)


def parameters_documented(code: str | int | None) -> bool:
    """Whether the documentation (or the CSV) gives any parameter meaning for this code."""
    number = parse_code(code)
    if number is None:
        return False
    entry = _documented().get(f"0x{base_code(number):x}", {})
    info = bugcheck_info(number)
    return bool(entry.get("parameters") or entry.get("subtypes") or (info and any(info.parameters)))


def _subtype_value(code: int, parameters: tuple[str | None, ...]) -> int | None:
    index = SUBTYPE_CODES.get(base_code(code), 0)
    if index >= len(parameters) or parameters[index] is None:
        return None
    return parse_code(parameters[index])
