"""Findings about a job's outcome rather than a crash: a file of a type not analysed, a job that failed.

The Django side records them (analysis.services) when the parsers found no type or the job could not
finish; their texts are in the knowledge tables (analysis/tables/data/job_outcomes.json).
"""

from __future__ import annotations

from dataclasses import replace

from analysis.parsers.result import Finding
from analysis.rules.common import finding
from analysis.tables.texts import bilingual


def unsupported_type_findings(
    findings: tuple[Finding, ...], *, detected: str, file: str
) -> tuple[Finding, ...]:
    """The file's findings led by "not analysed" with the type the upload side ``detected``, so an
    engineer knows to look at the file by hand (the rules alone only say the type is not recognised)."""
    title, title_zh = bilingual("job_outcomes", "unsupported_type", "title", type=detected)
    base = next((item for item in findings if item.code == "unsupported_type"), None)
    if base is None:
        lead = finding("low", "unsupported_type", "high", [], (title, file, ""), (title_zh, "", ""))
    else:
        lead = replace(base, title=title, title_zh=title_zh, detail=base.detail or file, evidence=())
    return (lead, *(item for item in findings if item.code != "unsupported_type"))


def analysis_failed_finding(*, file: str, reason: str) -> Finding:
    """A job failed for good: the file and the reason, and what an engineer can do."""
    title, title_zh = bilingual("job_outcomes", "analysis_failed", "title")
    advice, advice_zh = bilingual("job_outcomes", "analysis_failed", "recommendation")
    detail = f"{file}: {reason}"
    return finding(
        "medium", "analysis_failed", "high", [], (title, detail, advice), (title_zh, "", advice_zh)
    )
