"""``python -m analysis FILE [FILE ...] [--json] [--version]``: the command line of DESIGN.md.

Exit status 0 for any batch (files that cannot be parsed carry ``errors``); 2 only for usage errors.
Runs without Django: it imports only ``analysis.parsers`` and ``analysis.rules``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from analysis.parsers import ENGINE_VERSION, ParseResult
from analysis.rules import analyse_file


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Analyse crash dumps, event logs and crash texts; print crashes and findings.",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="files to analyse")
    parser.add_argument("--json", action="store_true", help="print the JSON array of the contract")
    parser.add_argument("--version", action="store_true", help="print the engine version and exit")
    args = parser.parse_args(argv)
    if not args.version and not args.files:
        parser.error("at least one FILE is required")
    return args


def _cell(value: object, width: int) -> str:
    text = "-" if value in (None, "") else str(value)
    return text if len(text) <= width else text[: width - 1] + "~"


def report(results: Sequence[ParseResult]) -> str:
    """The readable report: per file a table of crashes, then the findings and errors."""
    lines: list[str] = []
    for result in results:
        lines.append(f"== {result.file}  [{result.kind}]")
        if result.crashes:
            lines.append(f"  {'#':>3}  {'code':<12} {'name':<40} {'time':<20} {'process':<16} culprit")
            for index, crash in enumerate(result.crashes):
                code = crash.bugcheck_code or crash.exception_code
                name = crash.bugcheck_name or crash.exception_name or crash.title
                lines.append(
                    f"  {index:>3}  {_cell(code, 12):<12} {_cell(name, 40):<40} {_cell(crash.crash_time, 20):<20} "
                    f"{_cell(crash.process_name, 16):<16} {_cell(crash.culprit_module, 40)}"
                )
                if crash.culprit_reason:
                    lines.append(f"       why: {crash.culprit_reason}")
        if result.events:
            kinds: dict[str, int] = {}
            for event in result.events:
                kinds[event.kind] = kinds.get(event.kind, 0) + 1
            lines.append(
                "  events: " + ", ".join(f"{kind} x{count}" for kind, count in sorted(kinds.items()))
            )
        for finding in result.findings:
            lines.append(f"  [{finding.severity}/{finding.confidence}] {finding.code}: {finding.title}")
            lines.append(f"       {finding.detail}")
            lines.append(f"       -> {finding.recommendation}")
        for error in result.errors:
            lines.append(f"  error: {error}")
        lines.append("")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    if args.version:
        print(ENGINE_VERSION)
        return 0
    results = [analyse_file(path) for path in args.files]
    try:
        if args.json:
            json.dump([result.to_json() for result in results], sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(report(results))
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (e.g. `| head`) went away; that is not a failure of the batch.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


if __name__ == "__main__":
    sys.exit(main())
