"""Build analysis/tables/data/bugcheck_parameters.json: each bug check's documented parameter meanings in
English and Simplified Chinese, from Microsoft's Windows driver documentation (CC BY 4.0).

Sources: MicrosoftDocs/windows-driver-docs (English) and its Simplified Chinese edition (the zh-cn
translation of the same pages), `windows-driver-docs-pr/debugger/bug-check-0x*.md`. A page gives either one
row per parameter ("| 1 | Virtual address of attempted write |") or, for codes whose first parameter is a
subtype, one row per subtype with the meaning of parameters 2-4 and the cause.

    python scripts/build_bugcheck_parameters.py EN_REPO ZH_REPO   # git directories (bare or not)
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "analysis" / "rules" / "data" / "bugcheck_parameters.json"
PAGES = "windows-driver-docs-pr/debugger"


def _git(repo: str, *args: str) -> str:
    return subprocess.run(
        ["git", "--git-dir", repo, *args], capture_output=True, text=True, check=True
    ).stdout


def _pages(repo: str) -> dict[str, str]:
    names = [
        n
        for n in _git(repo, "ls-tree", "--name-only", f"HEAD:{PAGES}").split()
        if n.startswith("bug-check-0x")
    ]
    return {name: _git(repo, "show", f"HEAD:{PAGES}/{name}") for name in names}


def _clean(cell: str) -> str:
    cell = re.sub(r"<br\s*/?>", " ", cell, flags=re.I)
    cell = re.sub(r"<[^>]+>", "", cell)
    cell = html.unescape(cell).replace("\\_", "_").replace("**", "").replace("`", "")
    cell = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", cell)
    return re.sub(r"\s+", " ", cell).strip()


def _tables(text: str) -> list[list[list[str]]]:
    """Every table of a page as rows of cleaned cells (HTML tables and markdown pipe tables)."""
    tables: list[list[list[str]]] = []
    for block in re.findall(r"(?is)<table.*?</table>", text):
        rows = []
        for row in re.findall(r"(?is)<tr.*?</tr>", block):
            rows.append([_clean(c) for c in re.findall(r"(?is)<t[hd][^>]*>(.*?)</t[hd]>", row)])
        tables.append(rows)
    current: list[list[str]] = []
    for line in text.splitlines() + [""]:
        if line.strip().startswith("|"):
            cells = [_clean(c) for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-{2,}:?", c) for c in cells if c):
                current.append(cells)
        elif current:
            tables.append(current)
            current = []
    return tables


def _code(name: str) -> int | None:
    match = re.match(r"bug-check-0x([0-9a-fA-F]+)", name)
    return int(match.group(1), 16) if match else None


def _parameters(text: str) -> dict[str, Any]:
    """{"parameters": [p1..p4]} and/or {"subtypes": {"0x..": {"p2", "p3", "p4", "cause"}}}."""
    found: dict[str, Any] = {}
    for rows in _tables(text):
        if not rows:
            continue
        head = [c.lower() for c in rows[0]]
        per_param = {}
        # One row per parameter: the first column is headed "Parameter" alone (not "Parameter 1").
        by_row = bool(head) and re.fullmatch(r"(?:parameter|参数|argument)s?", head[0].strip()) is not None
        for row in rows[1:] if by_row else ():
            if len(row) >= 2:
                key = re.sub(r"^(?:parameter|参数|arg)\s*", "", row[0].strip().lower())
                if key in ("1", "2", "3", "4"):
                    per_param[int(key)] = row[1]
        if per_param and "parameters" not in found:
            found["parameters"] = [per_param.get(i, "") for i in range(1, 5)]
            continue
        columns = {i: c for i, c in enumerate(head)}
        p1 = next((i for i, c in columns.items() if re.search(r"(parameter|参数)\s*1", c)), None)
        if p1 is not None and len(head) >= 2 and "subtypes" not in found:
            subtypes: dict[str, dict[str, str]] = {}
            for row in rows[1:]:
                value = re.match(r"(0x[0-9a-fA-F]+|\d+)\b", row[p1] if p1 < len(row) else "")
                if not value:
                    continue
                entry: dict[str, str] = {}
                for index, cell in enumerate(row):
                    label = columns.get(index, "")
                    number = re.search(r"(?:parameter|参数)\s*([2-4])", label)
                    if number:
                        entry[f"p{number.group(1)}"] = cell
                    elif index != p1 and re.search(r"cause|原因|说明|description|描述", label):
                        entry["cause"] = cell
                key = value.group(1).lower()
                subtypes[hex(int(key, 16) if key.startswith("0x") else int(key))] = entry
            if subtypes:
                found["subtypes"] = subtypes
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__)
        return 2
    english, chinese = _pages(argv[1]), _pages(argv[2])
    commits = {
        lang: _git(repo, "rev-parse", "HEAD").strip() for lang, repo in (("en", argv[1]), ("zh", argv[2]))
    }
    table: dict[str, Any] = {}
    for name, text in sorted(english.items()):
        code = _code(name)
        if code is None:
            continue
        entry: dict[str, Any] = {"page": name}
        en = _parameters(text)
        zh = _parameters(chinese[name]) if name in chinese else {}
        if en.get("parameters"):
            entry["parameters"] = en["parameters"]
        if zh.get("parameters"):
            entry["parameters_zh"] = zh["parameters"]
        if en.get("subtypes"):
            entry["subtypes"] = en["subtypes"]
        if zh.get("subtypes"):
            entry["subtypes_zh"] = zh["subtypes"]
        if len(entry) > 1:
            table[f"0x{code:x}"] = entry
    document = {
        "source": "Microsoft Windows driver documentation, bug check reference pages "
        "(windows-driver-docs-pr/debugger/bug-check-0x*.md); English: MicrosoftDocs/windows-driver-docs at "
        f"{commits['en']}; Simplified Chinese: the zh-cn edition of the same pages at {commits['zh']}",
        "licence": "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), (c) Microsoft Corporation",
        "codes": table,
    }
    OUT.write_text(
        json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"{len(table)} codes written to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
