"""Drafts of the three documents of a case, built from what the portal knows, in either language.

The text comes from templates/communications/documents/<kind>.<language>.txt (first line: subject). The
engineer edits the plain text; ``communications.text_html.text_to_html`` turns it into the HTML part of
the e-mail and the portal view, so what the customer reads is exactly what was sent. Only customer-visible facts enter a draft: the
scope, the evidence requests, the analysis rows and the summary, never the timeline and its notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import User
from analysis.models import Crash, Finding
from analysis.rules import actions as catalogue
from analysis.rules.common import FULL_DUMP_TYPES, class_zh
from analysis.selectors import crashes_for_case, findings_for_case
from analysis.tables import drivers as driver_table
from analysis.tables.knowledge import parameter_meanings, parameters_documented
from cases.models import Case
from cases.selectors import case_current_scope
from communications.models import DocumentKind
from communications.selectors import evidence_checklist
from config.links import site_url

LANGUAGES = ("en", "zh-hans")
# Text the engineer must replace before sending; the send service refuses a body that still has one.
PLACEHOLDER = re.compile(r"\[\[.*?\]\]", re.S)
_SEVERITY_ORDER = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass(frozen=True)
class Draft:
    kind: str
    language: str
    subject: str
    body: str


@dataclass(frozen=True)
class CrashRow:
    time: str
    code: str
    name: str
    process: str
    culprit: str
    file: str = "—"


@dataclass(frozen=True)
class ParameterRow:
    index: int
    value: str
    meaning: str


@dataclass(frozen=True)
class ParameterTable:
    crash: str  # "0xBE ATTEMPTED_WRITE_TO_READONLY_MEMORY (031023-12515-01.dmp)"
    rows: list[ParameterRow]


@dataclass
class Conclusion:
    title: str
    detail: str
    confidence: str
    evidence: list[str] = field(default_factory=list)
    code: str = ""


@dataclass
class FindingsFacts:
    crashes: list[CrashRow] = field(default_factory=list)
    parameters: list[ParameterTable] = field(default_factory=list)
    conclusions: list[Conclusion] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    driver_notes: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    meanings: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    # The catalogue ids behind ``recommendations``, in the same order (free-text advice has none).
    action_ids: list[str] = field(default_factory=list)
    not_analysed: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.crashes or self.meanings)

    @property
    def codes(self) -> list[str]:
        """Distinct crash codes in the order first seen."""
        return list(dict.fromkeys(row.code for row in self.crashes if row.code != "—"))


def document_language(*, case: Case, requested: str = "") -> str:
    """The requested language if it is one of ours, else the customer contact's, else English."""
    if requested in LANGUAGES:
        return requested
    contact = case.customer_contact
    if contact is not None and contact.language in LANGUAGES:
        return contact.language
    return "en"


def upload_page_url(case: Case) -> str:
    return site_url(reverse("uploads:page", args=[case.number]))


def case_page_url(case: Case) -> str:
    return site_url(reverse("cases:detail", args=[case.number]))


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def _cell(value: str) -> str:
    # A pipe inside a value would split the row when the text becomes an HTML table.
    return (value or "—").replace("|", "/").strip() or "—"


# Findings that say a file was not analysed: listed once per file, never as conclusions.
_NOT_ANALYSED_CODES = frozenset({"unsupported_type", "parse_error", "analysis_failed"})
# Findings whose whole content is a recommendation already in the merged list.
_RECOMMENDATION_ONLY_CODES = frozenset({"collect_kernel_dump", "collect_next"})
_CONFIDENCE_ORDER = {"high": 0, "medium": 1, "low": 2}
_MAX_EVIDENCE = 6
_MAX_PARAMETER_TABLES = 3
_MAX_DRIVER_LINES = 6


def _crash_label(crash: Crash) -> str:
    code = crash.code or crash.exception_code
    return " ".join(part for part in (code, crash.name or crash.exception_name or crash.title) if part) or "—"


def _crash_fact(crash: Crash) -> str:
    parts = [_crash_label(crash)]
    if crash.crash_time:
        parts.append(_when(crash.crash_time))
    if crash.process_name:
        parts.append(crash.process_name)
    return ", ".join(parts)


def _case_holdings(crashes: list[Crash]) -> frozenset[str]:
    """What the case already holds, so a message never asks for it (analysis/rules/actions.py)."""
    held: set[str] = set()
    for crash in crashes:
        raw = crash.raw or {}
        extra = raw.get("extra") or {}
        kind = extra.get("source_kind") or crash.upload.kind
        if kind == "evtx":
            held.add("system_log")
        if kind == "kernel_dump" and extra.get("dump_type") in FULL_DUMP_TYPES:
            held.add("kernel_memory_dump")
    return frozenset(held)


def findings_facts(*, case: Case, language: str) -> FindingsFacts:
    """The customer-facing facts of the analysis, in the document's language; three queries.

    Each conclusion once with the files and facts it rests on and its confidence; recommendations merged
    by action and ordered by value, without what the case already holds; files that could not be analysed
    listed once.
    """
    zh = language == "zh-hans"
    facts = FindingsFacts()
    crashes: list[Crash] = list(crashes_for_case(case=case))
    _crash_rows(facts, crashes)
    _parameter_tables(facts, crashes, zh)
    _drivers(facts, crashes, zh)
    facts.processes = sorted({c.process_name for c in crashes if c.process_name}, key=str.lower)
    references, free_advice, not_analysed = _conclusions(facts, case=case, crashes=crashes, zh=zh)
    holdings = _case_holdings(crashes)
    chosen = catalogue.merged(references, holdings)
    facts.recommendations = [
        catalogue.render(act, args, "zh" if zh else "en") for act, args in chosen
    ] + free_advice
    facts.action_ids = [act.id for act, _args in chosen]
    facts.not_analysed = [f"{name}: {reason}" if name else reason for name, reason in not_analysed.items()]
    return facts


def _crash_rows(facts: FindingsFacts, crashes: list[Crash]) -> None:
    for crash in crashes:
        facts.crashes.append(
            CrashRow(
                time=_when(crash.crash_time),
                code=_cell(crash.code or crash.exception_code),
                name=_cell(crash.name or crash.exception_name or crash.title),
                process=_cell(crash.process_name),
                culprit=_cell(crash.culprit_module),
                file=_cell(crash.upload.filename),
            )
        )


def _parameter_tables(facts: FindingsFacts, crashes: list[Crash], zh: bool) -> None:
    """The documented parameters of each bug check code once (the first crash with it)."""
    seen_codes: set[str] = set()
    for crash in crashes:
        if len(facts.parameters) >= _MAX_PARAMETER_TABLES:
            break
        values = tuple(crash.parameters or ())
        if not values or crash.exception_code or not crash.code or crash.code in seen_codes:
            continue
        seen_codes.add(crash.code)
        meanings = parameter_meanings(crash.code, values, "zh" if zh else "en")
        if not parameters_documented(crash.code):
            continue  # a table of "not documented" says nothing
        facts.parameters.append(
            ParameterTable(
                crash=f"{_crash_label(crash)} ({crash.upload.filename})",
                rows=[
                    ParameterRow(index=i + 1, value=_cell(value or "—"), meaning=_cell(meanings[i]))
                    for i, value in enumerate(values)
                ],
            )
        )


def _conclusions(
    facts: FindingsFacts, *, case: Case, crashes: list[Crash], zh: bool
) -> tuple[list[str], list[str], dict[str, str]]:
    """Each conclusion once with its evidence (into ``facts``); returns the catalogue references, the
    free-text advice and the files not analysed, for the recommendations."""
    by_id = {crash.pk: crash for crash in crashes}
    findings: list[Finding] = sorted(
        findings_for_case(case=case),
        key=lambda f: (
            _SEVERITY_ORDER.get(f.severity, 9),
            _CONFIDENCE_ORDER.get(f.confidence, 3),
            f.upload_id is not None,
            f.seq,
        ),
    )
    merged: dict[tuple[str, str], Conclusion] = {}
    references: list[str] = []
    free_advice: list[str] = []
    not_analysed: dict[str, str] = {}
    for finding in findings:
        title = (finding.title_zh if zh else "") or finding.title
        detail = (finding.detail_zh if zh else "") or finding.detail
        advice = (finding.recommendation_zh if zh else "") or finding.recommendation
        if finding.code in _NOT_ANALYSED_CODES:
            name = finding.upload.filename if finding.upload else ""
            not_analysed.setdefault(name, title)
            continue
        if finding.actions:
            references.extend(finding.actions)
        elif advice and advice not in free_advice:
            free_advice.append(advice)
        if finding.code in _RECOMMENDATION_ONLY_CODES:
            continue
        evidence = _evidence(finding, by_id)
        key = (finding.code, title)
        if key in merged:
            merged[key].evidence.extend(e for e in evidence if e not in merged[key].evidence)
            continue
        merged[key] = Conclusion(
            title=title, detail=detail, confidence=finding.confidence, evidence=evidence, code=finding.code
        )
        facts.meanings.append(f"{title}: {detail}" if detail else title)
    for conclusion in merged.values():
        if len(conclusion.evidence) > _MAX_EVIDENCE:
            more = len(conclusion.evidence) - _MAX_EVIDENCE
            conclusion.evidence = [*conclusion.evidence[:_MAX_EVIDENCE], f"… +{more}"]
    facts.conclusions = list(merged.values())
    return references, free_advice, not_analysed


def _evidence(finding: Finding, by_id: dict[int, Crash]) -> list[str]:
    """What a finding rests on, as "file: fact" lines: its own facts, else its evidence crashes."""
    lines: list[str] = []
    for item in finding.facts or []:
        if isinstance(item, dict) and item.get("fact"):
            line = f"{item.get('file')}: {item['fact']}" if item.get("file") else str(item["fact"])
            if line not in lines:
                lines.append(line)
    if lines:
        return lines
    for linked in finding.crashes.all():
        crash = by_id.get(linked.pk)
        if crash is not None:
            line = f"{crash.upload.filename}: {_crash_fact(crash)}"
            if line not in lines:
                lines.append(line)
    return lines


def _drivers(facts: FindingsFacts, crashes: list[Crash], zh: bool) -> None:
    """Third-party drivers with how many of the crashes that list drivers load them; diagnostic tools apart."""
    listed = [crash for crash in crashes if crash.modules]
    counts, names, classes = _driver_counts(facts, crashes)
    facts.drivers = sorted(names.values(), key=str.lower)
    culprits = {str(c.culprit_module or "").lower() for c in crashes}

    # An expert names the drivers that matter (at fault, security and filter software) and sums up the rest.
    def weight(key: str) -> tuple[int, int, str]:
        relevant = key in culprits or classes.get(key, "") in driver_table.SECURITY_CLASSES
        return (0 if relevant else 1, -counts.get(key, 0), key)

    ordered = sorted(names, key=weight)
    shown, rest = ordered[:_MAX_DRIVER_LINES], ordered[_MAX_DRIVER_LINES:]
    for key in shown:
        facts.driver_notes.append(
            _driver_note(names[key], classes.get(key, ""), counts.get(key), len(listed), zh)
        )
    _mentioned_notes(facts, crashes, names, zh)
    if rest:
        others = ("、" if zh else ", ").join(names[key] for key in rest)
        facts.driver_notes.append(
            f"另有 {len(rest)} 个第三方驱动：{others}"
            if zh
            else f"{len(rest)} more third-party drivers: {others}"
        )


def _driver_counts(
    facts: FindingsFacts, crashes: list[Crash]
) -> tuple[dict[str, int], dict[str, str], dict[str, str]]:
    """How many crashes load each third-party driver, its name as written and its class; diagnostic
    tools go to ``facts.tools`` instead."""
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    classes: dict[str, str] = {}
    for crash in crashes:
        for driver in crash.third_party_drivers or []:
            name = driver.get("name") if isinstance(driver, dict) else str(driver)
            if name:
                names.setdefault(name.lower(), name)
        for module in crash.modules or []:
            name = str(module.get("name") or "")
            if not name:
                continue
            key = name.lower()
            tool = driver_table.diagnostic_info(name)
            if tool is not None:
                line = f"{name}: {tool.product}"
                if line not in facts.tools:
                    facts.tools.append(line)
                continue
            if module.get("origin") == "third_party":
                counts[key] = counts.get(key, 0) + 1
                names.setdefault(key, name)
                if module.get("vendor_class"):
                    classes[key] = str(module["vendor_class"])
    return counts, names, classes


def _driver_note(name: str, klass: str, count: int | None, listed: int, zh: bool) -> str:
    if listed and count is not None:
        share = (
            f"{count}/{listed} 次列出驱动的蓝屏中已加载"
            if zh
            else f"loaded in {count} of {listed} crashes that list their drivers"
        )
    else:
        share = "蓝屏时已加载" if zh else "loaded at the time of the crash"
    if zh:
        kind = f"第三方驱动（{class_zh(klass)}）" if klass else "第三方驱动"
        return f"{name}：{kind}，{share}"
    kind = f"a third-party driver ({klass})" if klass else "a third-party driver"
    return f"{name}: {kind}, {share}"


def _mentioned_notes(facts: FindingsFacts, crashes: list[Crash], names: dict[str, str], zh: bool) -> None:
    """Drivers a pasted text only names (a path in prose): said as such, never as "loaded in every crash"."""
    mentioned: dict[str, tuple[str, str]] = {}
    for crash in crashes:
        extra = (crash.raw or {}).get("extra") or {}
        for name in extra.get("drivers_mentioned") or []:
            key = str(name).lower()
            if key in names or driver_table.diagnostic_info(str(name)):
                continue
            if driver_table.classify_module(str(name))[0] == "third_party":
                mentioned.setdefault(key, (str(name), crash.upload.filename))
    for name, file in list(mentioned.values())[:_MAX_DRIVER_LINES]:
        facts.driver_notes.append(
            f"{name}：第三方驱动，{file} 中提到（没有列出已加载驱动的转储）"
            if zh
            else f"{name}: a third-party driver named in {file} (no dump lists the loaded drivers)"
        )


def _greeting_name(case: Case) -> str:
    contact = case.customer_contact
    return str(contact) if contact is not None else ""


def _context(*, case: Case, author: User | None, language: str) -> dict[str, object]:
    return {
        "case": case,
        "contact": _greeting_name(case),
        "engineer": str(author or case.owner or ""),
        "upload_url": upload_page_url(case),
        "case_url": case_page_url(case),
        "language": language,
    }


def document_draft(*, case: Case, kind: str, language: str, author: User | None = None) -> Draft:
    """Render a draft of one document from the case's scope, evidence requests, analysis and summary."""
    if kind not in DocumentKind.values:
        raise ValueError(f"unknown document kind {kind!r}")
    language = document_language(case=case, requested=language)
    context = _context(case=case, author=author, language=language)
    if kind == DocumentKind.SCOPE:
        context["scope"] = case_current_scope(case=case)
        context["evidence"] = evidence_checklist(case=case)
    elif kind == DocumentKind.FINDINGS:
        context["facts"] = findings_facts(case=case, language=language)
    else:
        facts = findings_facts(case=case, language=language)
        scope = case_current_scope(case=case)
        summary = case.summaries.first()
        context.update(
            facts=facts,
            summary=summary,
            problem=(summary.problem_description if summary else "")
            or (scope.problem_definition if scope else "")
            or case.description,
            analysis=summary.analysis if summary else "",
            resolution=summary.resolution if summary else "",
        )
    text = render_to_string(f"communications/documents/{kind}.{language}.txt", context)
    subject, _sep, body = text.strip().partition("\n")
    body = re.sub(r"\n{3,}", "\n\n", body.strip("\n")) + "\n"
    return Draft(kind=kind, language=language, subject=subject.strip(), body=body)


def placeholders_in(text: str) -> list[str]:
    return PLACEHOLDER.findall(text)
