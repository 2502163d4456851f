"""Graded cases: public material put together as a case, with the conclusion an expert reached.

Each folder holds ``expected.json``: the files (public samples, the seed case, restored corpus files), the
expert's conclusion (cause as finding codes, culprit, top recommendation as a catalogue action) and what
the message must and must not say. ``grade`` drafts the findings message of such a case in a language and
returns what does not match; an empty list is a pass.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.corpus.score import FILES as CORPUS_FILES
from tests.samples import SAMPLES_DIR, SEED_DIR

GRADED = Path(__file__).resolve().parent


@dataclass
class GradedCase:
    name: str
    data: dict[str, Any]
    files: list[tuple[str, Path]] = field(default_factory=list)  # (upload name, path)
    missing: list[str] = field(default_factory=list)


def load_cases() -> list[GradedCase]:
    cases = []
    for expected in sorted(GRADED.glob("*/expected.json")):
        data = json.loads(expected.read_text(encoding="utf-8"))
        case = GradedCase(name=expected.parent.name, data=data)
        for entry in data["files"]:
            path = _path(entry, expected.parent)
            if path is None or not path.exists():
                case.missing.append(json.dumps(entry))
            else:
                case.files.append((entry.get("as") or path.name, path))
        cases.append(case)
    return cases


def _path(entry: dict[str, str], folder: Path) -> Path | None:
    if "samples" in entry:
        return SAMPLES_DIR / entry["samples"]
    if "seed" in entry:
        return SEED_DIR / entry["seed"]
    if "corpus" in entry:
        return CORPUS_FILES / entry["corpus"]
    if "file" in entry:
        return folder / entry["file"]
    return None


_TABLE_OR_RULE = re.compile(r"^\s*(\||[=\-]{3,}\s*$)")


def grade(data: dict[str, Any], facts: Any, body: str, file_names: list[str], language: str) -> list[str]:
    """What in a drafted findings message does not match the expert's conclusion (empty: pass)."""
    expert = data["expert"]
    problems: list[str] = []
    if facts.empty or not facts.conclusions:
        return ["no conclusion drafted"]
    first = facts.conclusions[0]
    if first.code not in expert["cause"]:
        problems.append(
            f"first conclusion is {first.code!r} ({first.title}), expected one of {expert['cause']}"
        )
    culprit = expert.get("culprit")
    if culprit and culprit.lower() not in f"{first.title} {first.detail}".lower():
        problems.append(f"first conclusion does not name {culprit}")
    for conclusion in facts.conclusions:
        if not conclusion.evidence:
            problems.append(f"conclusion without evidence: {conclusion.title}")
        for line in conclusion.evidence:
            if not line.startswith("…") and not any(line.startswith(f"{name}:") for name in file_names):
                problems.append(f"evidence not tied to a file of the case: {line}")
    top = expert.get("top_action")
    if top and (not facts.action_ids or facts.action_ids[0] != top):
        problems.append(f"top recommendation is {facts.action_ids[:1]}, expected {top!r}")
    if culprit and top and facts.recommendations and culprit.lower() not in facts.recommendations[0].lower():
        problems.append(f"top recommendation does not name {culprit}")
    for what, items in (
        ("conclusion", [c.title for c in facts.conclusions]),
        ("recommendation", facts.recommendations),
    ):
        repeated = {item for item in items if items.count(item) > 1}
        if repeated:
            problems.append(f"repeated {what}: {sorted(repeated)}")
    # Evidence lines may repeat (one crash can support two conclusions); nothing else may.
    lines = [
        line.strip()
        for line in body.splitlines()
        if line.strip()
        and not _TABLE_OR_RULE.match(line)
        and not line.strip().startswith(("Evidence:", "依据："))
    ]
    repeated_lines = {line for line in lines if lines.count(line) > 1}
    if repeated_lines:
        problems.append(f"repeated lines: {sorted(repeated_lines)[:3]}")
    for text in data.get("must_mention", []):
        if text not in body:
            problems.append(f"does not mention {text!r}")
    for text in data.get("must_not_mention", []):
        if text in body:
            problems.append(f"mentions {text!r}")
    for action in data.get("must_not_ask", []):
        if action in facts.action_ids:
            problems.append(f"asks {action!r} although the case holds it")
    if language == "zh-hans" and not re.search(r"[\u4e00-\u9fff]", first.title):
        problems.append("the Chinese message's conclusion is not in Chinese")
    return problems
