"""``{% analysis_case_panel %}``: the analysis panel inside the case page (needs case and request)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.inclusion_tag("analysis/panel.html", takes_context=True)
def analysis_case_panel(context: template.Context) -> dict[str, Any]:
    from analysis.views import panel_context

    return panel_context(request=context["request"], case=context["case"])


@register.filter
def duration(seconds: int | None) -> str:
    """Elapsed time of a job as m:ss or h:mm:ss (language-neutral; the page's script uses the same)."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
