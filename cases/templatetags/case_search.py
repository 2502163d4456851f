"""The case list's search excerpts: ``{{ case|search_highlight:query }}``."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from cases import search

register = template.Library()


@register.filter
def search_highlight(case: object, query: str) -> SafeString:
    """Where the query was found in this case (escaped, terms in ``<mark>``); empty without a search."""
    text = getattr(case, "search_text", None)
    if not text or not query:
        return SafeString("")
    return search.search_highlight(text, query)


@register.filter
def search_capped(count: int) -> bool:
    """Whether a search's results stopped at the newest matches it ranks (``cases.search``)."""
    return count >= search.SEARCH_CANDIDATES


@register.simple_tag
def search_candidates() -> int:
    return search.SEARCH_CANDIDATES
