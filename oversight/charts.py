"""Small server-rendered SVG charts: no script, no inline style (colours come from oversight.css)."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 520
ROW = 22
LABEL = 150


def _svg(height: int, body: list[str], title: str) -> SafeString:
    return mark_safe(  # noqa: S308 - every label below goes through escape/format_html
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def hbars(rows: Sequence[tuple[object, Sequence[int]]], *, title: str) -> SafeString:
    """Horizontal bars, stacked when a row has several values (series s0, s1, ...)."""
    peak = max((sum(values) for _label, values in rows), default=0) or 1
    span = WIDTH - LABEL - 50
    body: list[str] = []
    for i, (label, values) in enumerate(rows):
        y = i * ROW + 4
        body.append(
            format_html('<text class="label" x="{}" y="{}">{}</text>', LABEL - 6, y + 13, str(label)[:24])
        )
        x = float(LABEL)
        for series, value in enumerate(values):
            width = span * value / peak
            if width > 0:
                body.append(
                    format_html(
                        '<rect class="s{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>',
                        series,
                        f"{x:.1f}",
                        y,
                        f"{width:.1f}",
                        ROW - 6,
                        str(label),
                        value,
                    )
                )
            x += width
        body.append(
            format_html('<text class="value" x="{}" y="{}">{}</text>', f"{x + 4:.1f}", y + 13, sum(values))
        )
    return _svg(max(len(rows), 1) * ROW + 8, body, title)


def columns(categories: Sequence[str], series: Sequence[Sequence[int]], *, title: str) -> SafeString:
    """Grouped columns: one group per category, one column per series (s0, s1, ...)."""
    height, base, top = 200, 170, 10
    peak = max((max(values, default=0) for values in series), default=0) or 1
    slot = (WIDTH - 40) / max(len(categories), 1)
    bar = max(slot / (len(series) + 1), 1)
    body: list[str] = [format_html('<line class="axis" x1="30" y1="{}" x2="{}" y2="{}"/>', base, WIDTH, base)]
    body.append(format_html('<text class="tick" x="26" y="{}">{}</text>', top + 8, peak))
    body.append(format_html('<text class="tick" x="26" y="{}">0</text>', base))
    step = max(1, len(categories) // 6)
    for i, category in enumerate(categories):
        x0 = 34 + i * slot
        for s, values in enumerate(series):
            value = values[i]
            h = (base - top) * value / peak
            body.append(
                format_html(
                    '<rect class="s{}" x="{}" y="{}" width="{}" height="{}"><title>{}: {}</title></rect>',
                    s,
                    f"{x0 + s * bar:.1f}",
                    f"{base - h:.1f}",
                    f"{bar:.1f}",
                    f"{h:.1f}",
                    category,
                    value,
                )
            )
        if i % step == 0:
            body.append(
                format_html('<text class="xlabel" x="{}" y="{}">{}</text>', f"{x0:.1f}", base + 16, category)
            )
    return _svg(height, body, title)
