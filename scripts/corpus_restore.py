"""Restore the corpus files of tests/corpus/items into tests/corpus/files (not committed).

The corpus names public files by repository, commit and path (and, for a code block in a documentation
page or a test file with a header, which part of it); their licences allow use but the project does not
carry copies. This script takes each file from a local git mirror when one is given (``--mirrors DIR``,
laid out as ``DIR/<owner>+<name>/repo``, e.g. the snapshots of the research tooling) or else from GitHub's
raw-file address at the recorded commit, cuts the recorded part, and checks its SHA-256.

    python scripts/corpus_restore.py [--mirrors DIR] [--only ID-PREFIX]

Exit status 0 when every item whose source could be reached matched its checksum.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ITEMS = ROOT / "tests" / "corpus" / "items"
FILES = ROOT / "tests" / "corpus" / "files"


def _from_mirror(mirrors: Path, repo: str, commit: str, path: str) -> bytes | None:
    git_dir = mirrors / repo.replace("/", "+") / "repo"
    if not git_dir.exists():
        return None
    for ref in (commit, "HEAD"):
        done = subprocess.run(
            [
                "git",
                "--git-dir" if (git_dir / "HEAD").exists() else "-C",
                str(git_dir),
                "show",
                f"{ref}:{path}",
            ],
            capture_output=True,
            check=False,
        )
        if done.returncode == 0:
            return done.stdout
    return None


def _from_github(repo: str, commit: str, path: str) -> bytes:
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a fixed https address
        data: bytes = response.read()
    return data


def cut(data: bytes, how: str | None) -> bytes:
    """The recorded part of a source file."""
    if not how:
        return data
    if how == "after_first_blank_line":
        # syzkaller report test files: a header of expectations, a blank line, then the console log.
        return data.partition(b"\n\n")[2]
    match = re.fullmatch(r"code_block:(\d+)", how)
    if match:
        text = data.decode("utf-8")
        blocks = re.findall(r"(?ms)^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", text)
        return blocks[int(match.group(1))].encode("utf-8")
    raise ValueError(f"unknown cut {how!r}")


def restore(item: dict[str, object], mirrors: Path | None) -> str:
    source = item["source"]
    assert isinstance(source, dict)
    if source.get("type") != "git":
        return "skipped (no restorable source)"
    repo, commit, path = str(source["repo"]), str(source["commit"]), str(source["path"])
    data = _from_mirror(mirrors, repo, commit, path) if mirrors else None
    if data is None:
        try:
            data = _from_github(repo, commit, path)
        except OSError as exc:
            return f"unreachable ({exc})"
    part = cut(data, source.get("cut"))  # type: ignore[arg-type]
    digest = hashlib.sha256(part).hexdigest()
    if digest != item["sha256"]:
        return f"checksum differs ({digest[:12]} != {str(item['sha256'])[:12]})"
    FILES.mkdir(parents=True, exist_ok=True)
    (FILES / str(item["id"])).write_bytes(part)
    return "ok"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirrors", type=Path, help="folder of git mirrors named <owner>+<name>/repo")
    parser.add_argument("--only", default="", help="restore the items whose id starts with this")
    args = parser.parse_args(argv)
    outcomes: dict[str, int] = {}
    failed = False
    for path in sorted(ITEMS.glob("*/*.json")):
        item = json.loads(path.read_text(encoding="utf-8"))
        if not str(item["id"]).startswith(args.only):
            continue
        outcome = restore(item, args.mirrors)
        key = outcome.split(" (")[0]
        outcomes[key] = outcomes.get(key, 0) + 1
        if outcome.startswith("checksum"):
            failed = True
            print(f"{item['id']}: {outcome}", file=sys.stderr)
    print(", ".join(f"{count} {what}" for what, count in sorted(outcomes.items())))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
