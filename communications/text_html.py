"""Plain text of a document as safe HTML for the page: paragraphs, lists, rules, tables and links, every
character escaped first (a document is what an engineer typed)."""

from __future__ import annotations

import re

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# ASCII only, so a Chinese full-width bracket or comma after an address is not taken into the link.
_URL = re.compile(r"https?://[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]+")
_RULE = re.compile(r"^\s*[=\-]{3,}\s*$")
_BULLET = re.compile(r"^\s*[-*•]\s+")
_NUMBERED = re.compile(r"^\s*\d+[.)、]\s*")


def _inline(line: str) -> str:
    out: list[str] = []
    last = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:!?'")
        out.append(escape(line[last : match.start()]))
        out.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        last = match.start() + len(url)
    out.append(escape(line[last:]))
    return "".join(out)


def _table(rows: list[str]) -> str:
    cells = [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]
    cells = [row for row in cells if not all(re.fullmatch(r":?-{2,}:?", c) for c in row if c)]
    if not cells:
        return ""
    head = "".join(f"<th>{_inline(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>" for row in cells[1:])
    return f'<table class="doc-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def text_to_html(text: str) -> SafeString:
    """The document's plain text as HTML: headings (a line underlined with ===), pipe tables, lists and
    paragraphs. Everything is escaped first; only links to http(s) addresses are made."""
    html: list[str] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if i + 1 < len(lines) and _RULE.match(lines[i + 1]) and line.strip():
            html.append(f"<h3>{_inline(line.strip())}</h3>")
            i += 2
            continue
        if line.lstrip().startswith("|"):
            rows = []
            while i < len(lines) and lines[i].lstrip().startswith("|"):
                rows.append(lines[i])
                i += 1
            html.append(_table(rows))
            continue
        for pattern, tag in ((_BULLET, "ul"), (_NUMBERED, "ol")):
            if pattern.match(line):
                items = []
                while i < len(lines) and pattern.match(lines[i]):
                    item = pattern.sub("", lines[i], count=1)
                    i += 1
                    # Continuation lines (indented) belong to the item above.
                    while i < len(lines) and lines[i].startswith("   ") and lines[i].strip():
                        item += "\n" + lines[i].strip()
                        i += 1
                    items.append("<li>" + "<br>".join(_inline(part) for part in item.split("\n")) + "</li>")
                html.append(f"<{tag}>{''.join(items)}</{tag}>")
                break
        else:
            para = []
            while (
                i < len(lines)
                and lines[i].strip()
                and not lines[i].lstrip().startswith("|")
                and not _BULLET.match(lines[i])
                and not _NUMBERED.match(lines[i])
                and not (i + 1 < len(lines) and _RULE.match(lines[i + 1]))
            ):
                para.append(_inline(lines[i].strip()))
                i += 1
            if para:
                html.append("<p>" + "<br>".join(para) + "</p>")
            else:  # a stray rule line
                i += 1
    return mark_safe("\n".join(html))  # noqa: S308 - every piece went through escape()
