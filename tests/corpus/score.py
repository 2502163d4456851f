"""Scoring the analysis engine against the real-file corpus: how many of the facts a file shows it reads.

Each corpus item (``items/<kind>/<id>.json``) names a public file and lists the facts an engineer reads from
it (its sidecar). The files are not committed: ``scripts/corpus_restore.py`` puts them in ``files/``; the
public samples of ``../shared/samples`` count too, read from their own sidecars. A fact scores when the
engine reports exactly that value; a value the sidecar gives as ``null`` (cut off in the paste) scores only
when the engine reports nothing there, so a guess is an error. Used by ``bench/corpus.py`` and
``tests/analysis/test_corpus.py``.
"""

from __future__ import annotations

import html
import json
import os
import random
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analysis.parsers.result import Crash, ParseResult
from analysis.rules import analyse_file
from tests.samples import SAMPLES_DIR

CORPUS = Path(__file__).resolve().parent
ITEMS = CORPUS / "items"
FILES = CORPUS / "files"
REPO_ROOT = CORPUS.parents[1]
KINDS = ("windbg_text", "linux_oops", "kernel_dump", "user_dump", "evtx")


@dataclass
class Item:
    id: str
    kind: str
    path: Path | None  # None when the file is not restored here
    facts: dict[str, Any]
    source: dict[str, Any] = field(default_factory=dict)
    # Added after the readers were written and never used to change them: the honest figure.
    held_out: bool = False


def restored_path(item_id: str) -> Path:
    return FILES / item_id


def load_items() -> list[Item]:
    """Every corpus item, restored or not, plus the public samples when they are present."""
    items: list[Item] = []
    for path in sorted(ITEMS.glob("*/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        file = restored_path(data["id"])
        items.append(
            Item(
                id=data["id"],
                kind=data["kind"],
                path=file if file.exists() else None,
                facts=data["facts"],
                source=data.get("source", {}),
                held_out=bool(data.get("held_out")),
            )
        )
    items.extend(_sample_items())
    return items


# -- the public samples, their sidecars read into the corpus' fact vocabulary -------------------------------


def _sample_items() -> list[Item]:
    if not SAMPLES_DIR.is_dir():
        return []
    items: list[Item] = []
    for folder, kind, pattern in (
        ("windbg_text", "windbg_text", "*.txt"),
        ("linux_oops", "linux_oops", "*.txt"),
        ("kernel_dump", "kernel_dump", "*.dmp"),
        ("user_dump", "user_dump", "*"),
    ):
        for path in sorted((SAMPLES_DIR / folder).glob(pattern)):
            if path.suffix == ".json":
                continue
            sidecar = _sidecar(path)
            if sidecar is None:
                continue
            truth = sidecar.get("ground_truth") or {}
            if kind == "windbg_text":
                facts = _windbg_facts(truth, path.read_text(encoding="utf-8", errors="replace"))
            else:
                facts = _SAMPLE_FACTS[kind](truth)
            if facts:
                items.append(
                    Item(f"samples/{folder}/{path.name}", kind, path, facts, sidecar.get("source", {}))
                )
    return items


def _sidecar(path: Path) -> dict[str, Any] | None:
    for candidate in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if candidate.exists():
            data: dict[str, Any] = json.loads(candidate.read_text(encoding="utf-8"))
            return data
    return None


def _plain(value: Any) -> Any:
    """Sidecar values annotated with where they came from ('x (issue title)') were not in the text."""
    if isinstance(value, str) and " (" in value:
        return None
    return value


def _windbg_facts(truth: dict[str, Any], body: str = "") -> dict[str, Any]:
    crash: dict[str, Any] = {}
    code = truth.get("bugcheck_code")
    if isinstance(code, str) and code.startswith("0x"):
        crash["bugcheck_code"] = code.split()[0]
    if truth.get("exception_code"):
        crash["exception_code"] = truth["exception_code"]
    if truth.get("bugcheck_name"):
        crash["bugcheck_name"] = truth["bugcheck_name"]
    if truth.get("args") is not None:
        crash["parameters"] = [None if a is None else str(a).split()[0] for a in truth["args"]]
    process = _plain(truth.get("process_name"))
    if process:
        crash["process_name"] = process
    image = _plain(truth.get("image_name"))
    # A culprit only counts where the debugger names it in the excerpt (IMAGE_NAME), as the sample tests say.
    if image and f"IMAGE_NAME:  {image}" in body:
        crash["culprit_module"] = image
    for key in ("failure_bucket", "symbol_name"):
        value = _plain(truth.get(key))
        if value:
            crash[key] = value
    build = _plain(truth.get("os_build"))
    if isinstance(build, str):
        parts = build.split(".")
        crash["os_build"] = parts[2] if build.startswith("10.0.") and len(parts) > 2 else parts[0]
    return {"crashes": [crash]} if crash else {}


def _linux_facts(truth: dict[str, Any]) -> dict[str, Any]:
    crash: dict[str, Any] = {
        "title": truth.get("headline"),
        "process_name": truth.get("comm"),
        "pid": truth.get("pid"),
        "cpu": truth.get("cpu"),
        "tainted": truth.get("tainted"),
        "kernel_version": truth.get("kernel_version"),
        "culprit_module": truth.get("module"),
    }
    location = truth.get("rip") or truth.get("pc")
    if location:
        crash["function"] = location.split("+")[0]
    kind = str(truth.get("kind", ""))
    crash["architecture"] = "arm" if "ARM" in kind else "x86_64"
    return {"crashes": [crash]}


def _kernel_dump_facts(truth: dict[str, Any]) -> dict[str, Any]:
    header = truth.get("dump_header") or {}
    if not header:
        return {}
    crash: dict[str, Any] = {
        "bugcheck_code": header.get("BugCheckCode"),
        "parameters": header.get("BugCheckParameters"),
        "os_build": str(header.get("MinorVersion(build)")),
        "architecture": {"AMD64": "x64", "ARM64": "arm64", "I386": "x86"}.get(str(header.get("machine"))),
    }
    stamp = header.get("SystemTime_utc")
    if isinstance(stamp, str):
        crash["crash_time"] = stamp[:19] + "Z"
    return {"crashes": [crash]}


def _user_dump_facts(truth: dict[str, Any]) -> dict[str, Any]:
    mdmp = truth.get("mdmp_facts") or {}
    exception = mdmp.get("exception")
    if not isinstance(exception, dict) or not exception.get("code"):
        return {}
    crash: dict[str, Any] = {
        "exception_code": exception["code"],
        "exception_address": exception.get("address"),
    }
    module = exception.get("in_module")
    if isinstance(module, str) and "+" in module:
        crash["culprit_module"] = module.split("+")[0]
    return {"crashes": [crash]}


_SAMPLE_FACTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "linux_oops": _linux_facts,
    "kernel_dump": _kernel_dump_facts,
    "user_dump": _user_dump_facts,
}


# -- comparing -----------------------------------------------------------------------------------------------


def _number(value: Any) -> int | None:
    if value is None:
        return None
    try:
        number = int(str(value), 16)
    except ValueError:
        return None
    # Sign-extended 32-bit values (ffffffffc0000005) are the same number as their low half.
    return number & 0xFFFFFFFF if number >> 32 == 0xFFFFFFFF else number


def _module(value: Any) -> str | None:
    if not value:
        return None
    return str(value).replace("/", "\\").rsplit("\\", 1)[-1].lower()


def actual(crash: Crash, fact: str) -> Any:
    """The engine's value for a sidecar fact."""
    extra = crash.extra
    if fact == "function":
        return crash.stack[0].symbol if crash.stack else None
    if fact in ("pid", "cpu", "tainted", "kernel_version", "failure_bucket", "symbol_name"):
        return extra.get(fact)
    return getattr(crash, fact, None)


def same(fact: str, expected: Any, got: Any) -> bool:
    if fact in ("bugcheck_code", "exception_code", "exception_address"):
        return _number(expected) == _number(got) and (expected is None) == (got is None)
    if fact == "parameters":
        got = list(got or ())
        if expected is None:
            return not got
        return len(got) == len(expected) and all(
            (e is None and g is None) or (e is not None and g is not None and _number(e) == _number(g))
            for e, g in zip(expected, got, strict=True)
        )
    if fact == "culprit_module":
        return _module(expected) == _module(got)
    if isinstance(expected, str) and isinstance(got, str):
        return expected.strip() == got.strip()
    return bool(expected == got)


@dataclass
class Score:
    facts: int = 0
    correct: int = 0
    files: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, ok: bool, note: str) -> None:
        self.facts += 1
        if ok:
            self.correct += 1
        else:
            self.misses.append(note)

    @property
    def ratio(self) -> float:
        return self.correct / self.facts if self.facts else 0.0


def score_result(item_id: str, facts: dict[str, Any], result: ParseResult, score: Score) -> None:
    """Add one file's facts to ``score``."""
    score.files += 1
    crashes = list(result.crashes)
    if facts.get("no_crash"):
        score.add(not crashes, f"{item_id}: no crash in it, {len(crashes)} reported")
        return
    if "crash_count" in facts:
        score.add(len(crashes) == facts["crash_count"], f"{item_id}: crash count {len(crashes)}")
    for expected in facts.get("crashes", []):
        best: Crash | None = None
        best_hits = -1
        for crash in crashes:
            hits = sum(same(k, v, actual(crash, k)) for k, v in expected.items())
            if hits > best_hits:
                best, best_hits = crash, hits
        for fact, value in expected.items():
            got = actual(best, fact) if best is not None else None
            ok = best is not None and same(fact, value, got)
            score.add(ok, f"{item_id}: {fact} expected {value!r}, got {got!r}")
        if best is not None:
            crashes.remove(best)


def score_items(items: list[Item], transform: Callable[[str], str] | None = None) -> dict[str, Score]:
    """Parse every restored item (optionally after a paste transformation of text files) and score it."""
    scores: dict[str, Score] = {}
    for item in items:
        if item.path is None:
            continue
        score = scores.setdefault(item.kind, Score())
        if transform is None:
            result = analyse_file(item.path, display_name=item.id)
        else:
            text = item.path.read_bytes().decode("utf-8", errors="replace")
            result = _parse_text(transform(text), item.id)
        score_result(item.id, item.facts, result, score)
    return scores


def _parse_text(text: str, name: str) -> ParseResult:

    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8", delete=False) as handle:
        handle.write(text)
    try:
        return analyse_file(handle.name, display_name=name)
    finally:
        os.unlink(handle.name)


# -- paste forms: the same real texts the way people post them ----------------------------------------------

_FORM_RANDOM_SEED = 13


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def _fence(text: str) -> str:
    return "Here is the output:\n\n```text\n" + text.rstrip("\n") + "\n```\n\nAny idea?\n"


def _html(text: str) -> str:

    return "<details><summary>log</summary><pre><code>" + html.escape(text) + "</code></pre></details>"


def _crlf_tabs(text: str) -> str:
    return text.replace("\n", "\r\n")


def _indented(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


PASTE_FORMS: dict[str, Callable[[str], str]] = {
    "markdown quote": _quote,
    "code fence": _fence,
    "HTML-escaped in <pre>": _html,
    "CRLF line ends": _crlf_tabs,
    "indented code block": _indented,
}


def paste_forms(items: list[Item]) -> Iterator[tuple[str, dict[str, Score]]]:
    """Scores of the text items pasted in each form (facts unchanged: the forms lose nothing)."""
    texts = [item for item in items if item.kind in ("windbg_text", "linux_oops") and item.path is not None]
    random.Random(_FORM_RANDOM_SEED).shuffle(texts)
    for name, form in PASTE_FORMS.items():
        yield name, score_items(texts, transform=form)


def summary_line(kind: str, score: Score) -> str:
    return f"| {kind} | {score.files} | {score.facts} | {score.correct} | {100 * score.ratio:.1f} % |"


def misses_by_fact(score: Score) -> dict[str, int]:
    counts: dict[str, int] = {}
    for miss in score.misses:
        match = re.match(r"[^:]+: (\w[\w ]*?) (?:expected|\d|in it)", miss)
        key = match.group(1) if match else "other"
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))
