"""Shared helpers of the per-file and cross-crash rules: crash facts and bilingual finding records."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from analysis.parsers.result import Crash, Finding, Module, Severity
from analysis.rules import drivers, knowledge

RULESET_VERSION = "1"
# Dump types that hold kernel memory (everything but triage minidumps and header-only dumps).
FULL_DUMP_TYPES = frozenset({1, 2, 5, 6, 7, 8, 9, 0xA})


def finding(
    severity: Severity,
    code: str,
    confidence: str,
    evidence: Iterable[int],
    en: tuple[str, str, str],
    zh: tuple[str, str, str],
    *,
    actions: Iterable[str] = (),
    facts: Iterable[dict[str, str]] = (),
) -> Finding:
    """A finding in English and Simplified Chinese: ``en``/``zh`` are (title, detail, recommendation);
    ``actions`` are catalogue references, ``facts`` the evidence that is not a crash (events, drivers)."""
    return Finding(
        severity=severity,
        code=code,
        title=en[0],
        detail=en[1],
        recommendation=en[2],
        confidence=confidence,
        evidence=tuple(sorted(set(evidence))),
        title_zh=zh[0],
        detail_zh=zh[1],
        recommendation_zh=zh[2],
        facts=tuple(facts),
        actions=tuple(dict.fromkeys(actions)),
    )


def with_actions(item: Finding, actions: Iterable[str]) -> Finding:
    """The finding with its catalogue actions, its recommendation written from them in both languages."""
    refs = tuple(dict.fromkeys(actions))
    if not refs:
        return item
    from analysis.rules.actions import render_all

    return replace(
        item,
        actions=refs,
        recommendation=" ".join(render_all(refs, "en")),
        recommendation_zh="".join(render_all(refs, "zh")),
    )


def source_file(crash: Crash) -> str:
    """The file a crash was read from (set by ``enrich_result``)."""
    return str(crash.extra.get("source_file") or "")


def source_kind(crash: Crash) -> str:
    return str(crash.extra.get("source_kind") or "")


def crash_fact(crash: Crash) -> str:
    """One line saying what a crash is: code and name (or exception, or headline), time, process."""
    parts = [label(crash)]
    if crash.crash_time:
        parts.append(crash.crash_time.replace("T", " ").replace("Z", " UTC"))
    if crash.process_name:
        parts.append(crash.process_name)
    return ", ".join(parts)


def crash_facts(crashes: Sequence[Crash], indexes: Iterable[int]) -> list[dict[str, str]]:
    return [{"file": source_file(crashes[i]), "fact": crash_fact(crashes[i])} for i in sorted(set(indexes))]


def code_of(crash: Crash) -> int | None:
    """The bug check code without the ``_M`` bit, or None for user-mode and Linux crashes."""
    code = knowledge.parse_code(crash.bugcheck_code)
    return None if code is None else knowledge.base_code(code)


def label(crash: Crash) -> str:
    """``0xBE ATTEMPTED_WRITE_TO_READONLY_MEMORY`` style label of a crash."""
    code = code_of(crash)
    if code is not None:
        name = crash.bugcheck_name or knowledge.bugcheck_name(code) or "unknown code"
        raw = knowledge.parse_code(crash.bugcheck_code)
        return f"0x{raw:X} {name}" if raw is not None else name
    if crash.exception_code:
        return f"{crash.exception_code} {crash.exception_name or ''}".strip()
    return crash.title or "crash"


def is_not_a_crash(crash: Crash) -> bool:
    """Manually initiated bug checks and live kernel reports (analysis-spec B.4: never count as BSODs)."""
    code = code_of(crash)
    if code is None:
        return False
    cats = knowledge.categories(code)
    return code in knowledge.MANUAL_CODES or "manual" in cats[:1] or "livedump" in cats[:1]


def module_record(crash: Crash, name: str) -> Module | None:
    wanted = drivers.canonical(name)
    for module in crash.modules:
        if drivers.canonical(module.name) == wanted:
            return module
    return None


def is_third_party(crash: Crash, name: str | None) -> bool:
    if not name:
        return False
    record = module_record(crash, name)
    if record is not None and record.origin != "unknown":
        return record.origin == "third_party"
    return drivers.classify_module(name)[0] == "third_party"


def vendor_text(crash: Crash, name: str) -> str:
    record = module_record(crash, name)
    info = drivers.vendor_info(name)
    vendor = (record.vendor if record else None) or (info.vendor if info else None)
    klass = (record.vendor_class if record else None) or (info.vendor_class if info else None)
    product = info.product if info else None
    parts = [part for part in (vendor, product) if part]
    text = ", ".join(parts)
    if klass:
        text = f"{text}; {klass}" if text else klass
    return text


def has_dump_facts(crash: Crash) -> bool:
    """True for crashes read from a dump (or debugger output of one), not only from an event log."""
    return bool(crash.modules or crash.stack or "dump_type" in crash.extra)


def third_party_loaded(crash: Crash) -> list[Module]:
    return [module for module in crash.modules if module.origin == "third_party"]


def security_drivers(crash: Crash) -> list[Module]:
    found = []
    for module in third_party_loaded(crash):
        info = drivers.vendor_info(module.name)
        klass = module.vendor_class or (info.vendor_class if info else None)
        if klass in drivers.SECURITY_CLASSES:
            found.append(module)
    return found


def klass_of(module: Module) -> str | None:
    info = drivers.vendor_info(module.name)
    return module.vendor_class or (info.vendor_class if info else None)
