"""The real-file corpus (tests/corpus) scored in a few seconds: the readers must keep what they read.

The files are not committed: run scripts/corpus_restore.py to restore them; the public samples count when
../shared/samples is present. bench/corpus.py prints the full table."""

from __future__ import annotations

import pytest

from tests.corpus.score import load_items, score_items

# Per kind, the share of sidecar facts read exactly; a drop below it is a regression to look at.
FLOORS = {"windbg_text": 0.97, "linux_oops": 0.97, "kernel_dump": 1.0, "user_dump": 1.0}


def test_corpus_facts_are_read() -> None:
    items = [item for item in load_items() if item.path is not None]
    if not items:
        pytest.skip(
            "no corpus file present: run scripts/corpus_restore.py (and/or provide ../shared/samples)"
        )
    scores = score_items(items)
    low = {
        kind: f"{score.ratio:.3f} < {FLOORS[kind]}: {score.misses[:5]}"
        for kind, score in scores.items()
        if kind in FLOORS and score.ratio < FLOORS[kind]
    }
    assert not low, low


def test_corpus_items_name_their_source_and_facts() -> None:
    for item in load_items():
        if item.id.startswith("samples/"):
            continue
        assert item.source.get("repo") and item.source.get("commit") and item.source.get("licence"), item.id
        assert item.facts.get("crashes") or item.facts.get("no_crash"), item.id
