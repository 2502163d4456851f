"""Drafts of the three documents of a case, built from what the portal knows, in either language.

The text comes from templates/communications/documents/<kind>.<language>.txt (first line: subject). The
engineer edits the plain text; ``text_to_html`` turns it into the HTML part of the e-mail and the portal
view, so what the customer reads is exactly what was sent. Only customer-visible facts enter a draft: the
scope, the evidence requests, the analysis rows and the summary, never the timeline and its notes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from accounts.models import User
from analysis.models import Crash, Finding
from analysis.selectors import crashes_for_case, findings_for_case
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


@dataclass
class FindingsFacts:
    crashes: list[CrashRow] = field(default_factory=list)
    drivers: list[str] = field(default_factory=list)
    processes: list[str] = field(default_factory=list)
    meanings: list[str] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)

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


def findings_facts(*, case: Case, language: str) -> FindingsFacts:
    """The customer-facing facts of the analysis, in the document's language; three queries."""
    facts = FindingsFacts()
    crashes: list[Crash] = list(crashes_for_case(case=case))
    for crash in crashes:
        facts.crashes.append(
            CrashRow(
                time=_when(crash.crash_time),
                code=_cell(crash.code or crash.exception_code),
                name=_cell(crash.name or crash.exception_name or crash.title),
                process=_cell(crash.process_name),
                culprit=_cell(crash.culprit_module),
            )
        )
    drivers: dict[str, str] = {}
    for crash in crashes:
        for driver in crash.third_party_drivers or []:
            name = driver.get("name") if isinstance(driver, dict) else str(driver)
            if name:
                drivers.setdefault(name.lower(), name)
    facts.drivers = sorted(drivers.values(), key=str.lower)
    facts.processes = sorted({c.process_name for c in crashes if c.process_name}, key=str.lower)
    findings: list[Finding] = sorted(
        findings_for_case(case=case), key=lambda f: (_SEVERITY_ORDER.get(f.severity, 9), f.seq)
    )
    zh = language == "zh-hans"
    seen_meanings: set[str] = set()
    seen_advice: set[str] = set()
    for finding in findings:
        title = (finding.title_zh if zh else "") or finding.title
        detail = (finding.detail_zh if zh else "") or finding.detail
        advice = (finding.recommendation_zh if zh else "") or finding.recommendation
        meaning = f"{title}: {detail}" if detail else title
        if meaning and meaning not in seen_meanings:
            seen_meanings.add(meaning)
            facts.meanings.append(meaning)
        if advice and advice not in seen_advice:
            seen_advice.add(advice)
            facts.recommendations.append(advice)
    return facts


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


# -- plain text to HTML ------------------------------------------------------------------------------------

# ASCII only, so a Chinese full-width bracket or comma after an address is not taken into the link.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]+")
_RULE = re.compile(r"^\s*[=\-]{3,}\s*$")
_BULLET = re.compile(r"^\s*[-*•]\s+")
_NUMBERED = re.compile(r"^\s*\d+[.)、]\s*")


def _inline(line: str) -> str:
    out, last = [], 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:!?'")
        out.append(escape(line[last : match.start()]))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        last = match.start() + len(url)
    out.append(escape(line[last:]))
    return "".join(out)


def _table(rows: list[str]) -> str:
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    cells = [row for row in cells if not all(re.fullmatch(r":?-{2,}:?", c) for c in row if c)]
    if not cells:
        return ""
    head = "".join(f"<th>{_inline(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in cells[1:])
    return f'<table class="doc-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def text_to_html(text: str) -> SafeString:
    """The document's plain text as HTML: headings (a line underlined with ===), pipe tables, lists and
    paragraphs. Everything is escaped first; only links to http(s) addresses are made."""
    html: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if i + 1 < len(lines) and _RULE.match(lines[i + 1]) and line.strip():
            html.append(f"<h3>{_inline(line.strip())}</h3>")
            i += 2
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            html.append(_table(rows))
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                items = []
                while i < len(lines) and pattern.match(lines[i]):
                    item = pattern.sub("", lines[i], count=1)
                    i += 1
                    # Continuation lines (indented) belong to the item above.
                    while i < len(lines) and lines[i].startswith("   ") and lines[i].strip():
                        item += "\n" + lines[i].strip()
                        i += 1
                    items.append("<li>" + "<br>".join(_inline(part) for part in item.split("\n")) + "</li>")
                html.append(f"<{tag}>{''.join(items)}</{tag}>")
                break
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not lines[i].lstrip().startswith("|")
                and not _BULLET.match(lines[i])
                and not _NUMBERED.match(lines[i])
                and not (i + 1 < len(lines) and _RULE.match(lines[i + 1]))
            ):
                para.append(_inline(lines[i].strip()))
                i += 1
            if para:
                html.append("<p>" + "<br>".join(para) + "</p>")
            else:  # a stray rule line
                i += 1
    return mark_safe("\n".join(html))  # noqa: S308 - every piece went through escape()
