"""What a real site's data looks like, for the seeders of bench/load.py and bench/scale.py (plain Python).

- Organisations are of very different sizes: one holds about a quarter of the cases, a long tail few.
- Third-party drivers follow the sharing seen in real dumps: a few are loaded on thousands of machines
  (an endpoint agent such as SfUemIsoSpace.sys on ~40 % of cases, an antivirus filter on ~30 %, another
  on ~10 %), most on a handful (a long tail of vendor drivers). A case's crashes share its machine's drivers.
- Bug check codes are the memory-corruption mix of the reference case (0xBE, 0x1A, 0xC2, 0x7E and its
  ``_M`` form 0x1000007E), signatures ``CODE | culprit``.
- Timelines: most cases a few entries, one case in a hundred a long one (150 entries), about five per
  case on average; a tenth of the entries are internal notes; some are in Chinese.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

SHARED_DRIVERS = [("SfUemIsoSpace.sys", 0.40), ("aswSP.sys", 0.30), ("klif.sys", 0.10)]
TAIL_DRIVERS = 2_000  # oem0000.sys ... each in a handful of cases
CODES = [
    ("0x000000be", "ATTEMPTED_WRITE_TO_READONLY_MEMORY"),
    ("0x0000001a", "MEMORY_MANAGEMENT"),
    ("0x000000c2", "BAD_POOL_CALLER"),
    ("0x0000007e", "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED"),
    ("0x1000007e", "SYSTEM_THREAD_EXCEPTION_NOT_HANDLED_M"),
]
LONG_TIMELINE_EVERY = 100
LONG_TIMELINE = 150
NOTES = [
    "Asked the customer for the System event log and the minidumps of the last week.",
    "The dumps show pool corruption; third-party filter drivers are loaded on every host.",
    "Customer confirms the agent was updated on Monday; crashes continue on 12 terminals.",
    "Ran the memory diagnostic remotely: no errors reported.",
    "请上传最近一周的小型转储文件和系统日志。",
    "客户确认蓝屏在更新安全代理后减少，但仍有终端重启。",
    "Driver Verifier enabled on two terminals; waiting for the next crash.",
    "Vendor of the isolation agent acknowledges a known issue in version 5.1.",
]
INTERNAL_NOTES = [
    "Internal: escalate to the storage team if the next dump shows the same stack.",
    "Internal: the account manager asked for a daily update.",
]


@dataclass(frozen=True)
class CasePlan:
    organisation: int
    drivers: tuple[str, ...]
    crashes: tuple[tuple[str, str], ...]  # (code, name) per crash
    timeline: tuple[tuple[str, bool], ...]  # (body, internal)


def organisation_index(rng: random.Random, organisations: int) -> int:
    """One organisation of ``organisations`` (0 is reserved for the small measured one): Zipf-like sizes."""
    weights = [1.0 / (rank**1.1) for rank in range(1, organisations)]
    return 1 + rng.choices(range(organisations - 1), weights=weights)[0]


def case_drivers(rng: random.Random) -> tuple[str, ...]:
    drivers = [name for name, share in SHARED_DRIVERS if rng.random() < share]
    drivers += [f"oem{rng.randrange(TAIL_DRIVERS):04d}.sys" for _ in range(rng.choice([1, 1, 2]))]
    return tuple(dict.fromkeys(drivers))


def case_plan(
    rng: random.Random, *, organisation: int, crashes: int, timeline: int | None = None, index: int = 0
) -> CasePlan:
    """One case's shape; ``timeline`` forces its length (else long for one case in a hundred)."""
    if timeline is None:
        timeline = (
            LONG_TIMELINE if index % LONG_TIMELINE_EVERY == LONG_TIMELINE_EVERY - 1 else rng.randint(2, 5)
        )
    entries = tuple(
        (rng.choice(INTERNAL_NOTES), True) if rng.random() < 0.1 else (rng.choice(NOTES), False)
        for _ in range(timeline)
    )
    return CasePlan(
        organisation=organisation,
        drivers=case_drivers(rng),
        crashes=tuple(rng.choice(CODES) for _ in range(crashes)),
        timeline=entries,
    )


def signature(code: str, drivers: tuple[str, ...]) -> tuple[str, str]:
    """(coarse, module) signatures of a crash as the parsers write them."""
    coarse = "0x" + (code[2:].lstrip("0").upper() or "0")
    return coarse, f"{coarse} | {drivers[0] if drivers else 'windows-kernel'}"
