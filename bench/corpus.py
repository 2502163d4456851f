"""Corpus score: how many of the facts real files show the engine reads, per kind (prints a table).

The corpus is tests/corpus (items with their sidecars; files restored by scripts/corpus_restore.py) plus
the public samples of ../shared/samples. "Paste forms" re-reads the same texts quoted, fenced,
HTML-escaped, with CRLF line ends and indented, the ways people post them.

    python bench/corpus.py [--misses N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.corpus.score import KINDS, load_items, misses_by_fact, paste_forms, score_items, summary_line  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--misses", type=int, default=0, help="print this many missed facts per kind")
    args = parser.parse_args()
    items = load_items()
    present = [item for item in items if item.path is not None]
    print(f"Corpus: {len(items)} items, {len(present)} present here", end="")
    missing = len(items) - len(present)
    print(f" ({missing} not restored: run scripts/corpus_restore.py)" if missing else "")
    started = time.perf_counter()
    scores = score_items(items)
    elapsed = time.perf_counter() - started
    print("\n| kind | files | facts | read right | score |\n|---|---|---|---|---|")
    total_facts = total_correct = 0
    for kind in KINDS:
        if kind in scores:
            print(summary_line(kind, scores[kind]))
            total_facts += scores[kind].facts
            total_correct += scores[kind].correct
    if total_facts:
        print(
            f"| all | {len(present)} | {total_facts} | {total_correct} | {100 * total_correct / total_facts:.1f} % |"
        )
    print(f"\n({elapsed:.1f} s for {len(present)} files)")
    held = [item for item in present if item.held_out]
    if held:
        held_scores = score_items(held)
        print(
            "\nHeld out (never used to change the readers):\n\n| kind | files | facts | read right | score |"
        )
        print("|---|---|---|---|---|")
        for kind, score in held_scores.items():
            print(summary_line(kind, score))
        if args.misses:
            for score in held_scores.values():
                for miss in score.misses[: args.misses]:
                    print("  held out:", miss[:200])
    print(
        "\nPaste forms (the same texts as people post them):\n\n| form | files | facts | score |\n|---|---|---|---|"
    )
    for name, form_scores in paste_forms(items):
        facts = sum(s.facts for s in form_scores.values())
        correct = sum(s.correct for s in form_scores.values())
        files = sum(s.files for s in form_scores.values())
        print(f"| {name} | {files} | {facts} | {100 * correct / facts if facts else 0:.1f} % |")
    if args.misses:
        for kind, score in scores.items():
            print(f"\n{kind}: missed facts by kind {misses_by_fact(score)}")
            for miss in score.misses[: args.misses]:
                print("  ", miss[:220])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
