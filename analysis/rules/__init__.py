"""Plain-Python rules (no Django): knowledge tables, per-crash and cross-crash findings.

``analyse_file(path)`` parses a file and applies them; ``file_result(result)`` gives a parsed file enriched (knowledge tables) with its findings, never raising;
``file_findings(result)`` gives the findings of one parsed file (per-crash rules, parse errors, and the
cross-crash rules over the file's own crashes and events, e.g. a System log); ``case_findings(crashes,
events)`` gives the cross-crash findings over all of a case's files.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import BinaryIO

from analysis.parsers import parse_file
from analysis.parsers.result import Finding, Kind, ParseResult
from analysis.rules.common import RULESET_VERSION, finding
from analysis.rules.cross import case_findings
from analysis.rules.enrich import enrich_result
from analysis.rules.per_crash import crash_findings
from analysis.tables.knowledge import bugcheck_info, bugcheck_name

__all__ = [
    "RULESET_VERSION",
    "analyse_file",
    "bugcheck_info",
    "bugcheck_name",
    "case_findings",
    "crash_findings",
    "file_findings",
    "file_result",
]


def analyse_file(
    path: str | os.PathLike[str] | BinaryIO, display_name: str | None = None, kind: Kind | None = None
) -> ParseResult:
    """One file from bytes to findings: ``parse_file`` (detect unless ``kind`` is known, parse), then
    ``file_result`` (enrich, per-file rules); never raises."""
    return file_result(parse_file(path, display_name, kind))


def file_result(result: ParseResult) -> ParseResult:
    """A parsed file enriched from the knowledge tables, with its per-file findings added; a failure of
    either becomes an ``errors`` entry, never an exception (a bad file must not stop the batch)."""
    try:
        result = enrich_result(result)
    except Exception as exc:
        result = replace(result, errors=(*result.errors, f"enrichment failed ({type(exc).__name__}: {exc})"))
    try:
        return replace(result, findings=(*result.findings, *file_findings(result)))
    except Exception as exc:
        return replace(result, errors=(*result.errors, f"rules failed ({type(exc).__name__}: {exc})"))


def file_findings(result: ParseResult) -> tuple[Finding, ...]:
    """Findings for one parsed file; evidence indexes refer to ``result.crashes``."""
    out: list[Finding] = list(_file_state(result))
    for index, crash in enumerate(result.crashes):
        out.extend(crash_findings(crash, index))
    if len(result.crashes) < 2 and not result.events:
        return tuple(out)  # cross-crash rules need several crashes or a log
    seen = {(f.code, f.evidence) for f in out}
    for item in case_findings(result.crashes, result.events):
        if (item.code, item.evidence) not in seen:
            out.append(item)
    return tuple(out)


def _file_state(result: ParseResult) -> list[Finding]:
    if result.kind == "archive":
        return [finding(
            "info", "unsupported_type", "high", [],
            ("Archive: analysed through its members",
             f"{result.file} is an archive; the upload expands it and each member file is analysed on its own.",
             "Nothing to do; if no member appears, upload the dumps and logs directly."),
            ("压缩包：按其中的文件分别分析",
             f"{result.file} 是压缩包；上传后会自动解压，其中每个文件单独分析。",
             "无需操作；如未看到解压后的文件，请直接上传转储和日志。"),
        )]  # fmt: skip
    if not result.errors:
        return []
    errors = "; ".join(result.errors[:5])
    if result.kind == "unknown":
        return [finding(
            "low", "unsupported_type", "high", [],
            ("File type not recognised",
             f"{result.file}: {errors}. Supported: Windows kernel dumps (.dmp from C:\\Windows\\Minidump, "
             "MEMORY.DMP), user-mode minidumps, event logs (.evtx), WinDbg !analyze -v text and Linux "
             "kernel oops text.",
             "Upload the crash dumps and the System and Application event logs (.evtx)."),
            ("无法识别的文件类型",
             f"{result.file}：{errors}。支持：Windows 内核转储（C:\\Windows\\Minidump 下的 .dmp、MEMORY.DMP）、"
             "用户态小型转储、事件日志（.evtx）、WinDbg !analyze -v 文本以及 Linux 内核 oops 文本。",
             "请上传蓝屏转储以及系统和应用程序事件日志（.evtx）。"),
        )]  # fmt: skip
    partial = bool(result.crashes or result.events)
    return [finding(
        "low" if partial else "medium", "parse_error", "high", [],
        ("File partly read" if partial else "File could not be read",
         f"{result.file}: {errors}." + (" The facts that could be read are shown." if partial else ""),
         "Check that the upload completed (compare its SHA-256 with the original) and upload the file "
         "again if it was cut off; otherwise send it as is for manual analysis."),
        ("文件仅部分可读" if partial else "无法读取文件",
         f"{result.file}：{errors}。" + ("已显示可读取的信息。" if partial else ""),
         "请确认上传完整（与原文件比对 SHA-256），如文件被截断请重新上传；否则请保留原文件以便人工分析。"),
    )]  # fmt: skip
