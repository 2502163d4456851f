"""Graded cases: run tests/cases/graded (each public case drafted in English and Chinese through the
pipeline) and print whether each draft reaches the expert's conclusion.

    python bench/graded.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "var" / "graded-results.json"


def main() -> int:
    RESULTS.unlink(missing_ok=True)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/cases/graded", "-q", "-p", "no:cacheprovider", "--no-header"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else run.stderr.strip()[-300:]
    if not RESULTS.exists():
        print(f"no graded results ({summary})")
        return 1
    results = json.loads(RESULTS.read_text(encoding="utf-8"))
    print("| case | English | Chinese |\n|---|---|---|")
    passed = 0
    for name, item in sorted(results.items()):
        cells = []
        for language in ("en", "zh-hans"):
            problems = item["languages"].get(language)
            cells.append("—" if problems is None else "pass" if not problems else "; ".join(problems)[:120])
            passed += problems == []
        print(f"| {name}: {item['title']} | {cells[0]} | {cells[1]} |")
    print(f"\n{passed} of {2 * len(results)} drafts reach the expert's conclusion ({summary})")
    return 0 if run.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
