"""Shared helpers of the per-file and cross-crash rules: crash facts and bilingual finding records."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import replace

from analysis.parsers.result import Crash, Event, Finding, Module, Severity
from analysis.rules.actions import render_all
from analysis.tables import drivers, knowledge

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


def event_fact(event: Event) -> dict[str, str]:
    """An event as evidence, in words that need no translation: source, event ID, time."""
    when = (event.time or "").replace("T", " ").replace("Z", " UTC")
    return {
        "file": str(event.data.get("source_file") or ""),
        "fact": f"{event.provider} {event.event_id}, {when}".strip(", "),
    }


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


# The culprit reasons the readers write, in Chinese (a reason not listed stays as written).
_REASONS_ZH: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"named by the debugger's !analyze \((\w+)\)"), r"调试器 !analyze 指出（\1）"),
    (re.compile(r"named by the debugger \('Probably caused by'\)"), "调试器指出（Probably caused by）"),
    (re.compile(r"holds the exception address \(the debugger's exception record\)"), "异常地址位于该模块（调试器的异常记录）"),
    (re.compile(r"fault inside Windows \(([^)]*)\); first third-party module on the stack is (\S+)"),
     r"故障位于 Windows 内部（\1）；栈上第一个第三方模块是 \2"),
    (re.compile(r"fault inside Windows \(([^)]*)\); culprit not on the stack"), r"故障位于 Windows 内部（\1）；栈上没有可疑模块"),
    (re.compile(r"first third-party module on the stack is (\S+)"), r"栈上第一个第三方模块是 \1"),
    (re.compile(r"first third-party module on the stack \(stack scan, weak evidence\)"), "栈扫描找到的第一个第三方模块（弱证据）"),
    (re.compile(r"driver named by Windows at the bug check \(BrokenDriver\)"), "Windows 在蓝屏时指出的驱动（BrokenDriver）"),
    (re.compile(r"fault address (\S+) \(([^)]*)\) is in (\S+), (.*)"), r"故障地址 \1（\2）位于 \3，\4"),
    (re.compile(r"named on the blue screen(?: \('What failed'\))?"), "蓝屏界面上指出"),
    (re.compile(r"no third-party module on the stack; culprit not determined"), "栈上没有第三方模块，无法确定责任模块"),
]  # fmt: skip


def reason_zh(reason: str) -> str:
    for pattern, replacement in _REASONS_ZH:
        if pattern.search(reason):
            return pattern.sub(replacement, reason)
    return reason


CLASS_ZH = {
    "antivirus/edr": "杀毒/EDR",
    "dlp/isolation": "数据防泄漏/隔离",
    "vpn/filter": "VPN/网络过滤",
    "network-capture": "网络抓包",
    "storage": "存储",
    "graphics": "显卡",
    "virtualization": "虚拟化",
    "network": "网络",
    "chipset": "芯片组",
    "hardware-utility": "硬件工具",
    "anti-cheat": "反作弊",
    "usb": "USB",
    "diagnostic/test": "诊断/测试工具",
}


def class_zh(klass: str | None) -> str:
    return CLASS_ZH.get(klass or "", klass or "")
