"""``{% case_fragment "name" %}...{% endcase_fragment %}``: a section of a case's pages rendered once per
case version and cached; ``{% case_row %}...{% endcase_row %}``: the same for a case's row of the case list, and
``{% case_table %}...{% endcase_table %}`` for the list's whole table, under its rows' versions.

Every write that changes what a case page shows raises the case's ``live_version`` (``cases.records``),
so a fragment keyed by that version is never stale; the key also holds who reads it (the context's
``fragment_scope``: their role, an account manager's own organisations), the language, and a digest of the
code, templates and translations (a deploy that changes any of them starts afresh). The forms inside keep working: the fragment is
rendered with a placeholder CSRF token that each request replaces with its own.
"""

from __future__ import annotations

import hashlib

from django import template
from django.core.cache import cache as django_cache
from django.db.models import QuerySet
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from config import caching, metrics

register = template.Library()

CSRF_PLACEHOLDER = caching.CSRF_PLACEHOLDER
# Fragments of an old version are never asked for again; the timeout only frees their memory.
FRAGMENT_SECONDS = 3600


def fragment_key(*, case_id: int, version: int, name: str, scope: str, language: str) -> str:
    return f"case-fragment:{caching.release_digest()}:{case_id}:{version}:{name}:{scope}:{language}"


class CaseFragmentNode(template.Node):
    def __init__(
        self, name: str, nodelist: template.NodeList, seconds: int, by: template.base.FilterExpression | None
    ) -> None:
        self.name = name
        self.nodelist = nodelist
        self.seconds = seconds
        self.by = by  # a value of the context that the fragment also depends on (its reader's own)

    def keyed_name(self, context: template.Context) -> str:
        return f"{self.name}={self.by.resolve(context)}" if self.by is not None else self.name

    def render(self, context: template.Context) -> SafeString | str:
        case = context.get("case")
        scope = context.get("fragment_scope")
        if case is None or not scope:
            return self.nodelist.render(context)
        keys = _page_keys(context, case_id=case.pk, version=case.live_version, scope=scope)
        name = self.keyed_name(context)
        key = keys.get(name) or fragment_key(
            case_id=case.pk, version=case.live_version, name=name, scope=scope, language=get_language()
        )
        html = _prefetched(context, keys).get(key)
        metrics.case_fragment(hit=html is not None)
        if html is None:
            with context.push(csrf_token=CSRF_PLACEHOLDER):
                html = self.nodelist.render(context)
            django_cache.set(key, html, self.seconds)
        token = context.get("csrf_token")
        return mark_safe(html.replace(CSRF_PLACEHOLDER, str(token) if token else ""))  # noqa: S308 - rendered by the template engine


_NODES: dict[str, tuple[CaseFragmentNode, ...]] = {}


def _nodes_in(page: template.base.Template) -> tuple[CaseFragmentNode, ...]:
    """The fragments of a template (its blocks included), found once per template and process."""
    if page.origin.name not in _NODES:
        _NODES[page.origin.name] = tuple(
            node
            for node in page.nodelist.get_nodes_by_type(CaseFragmentNode)
            if isinstance(node, CaseFragmentNode)
        )
    return _NODES[page.origin.name]


def _page_keys(context: template.Context, *, case_id: int, version: int, scope: str) -> dict[str, str]:
    """The keys of every fragment of the page being rendered, computed once per render."""
    store = context.render_context
    if "case_fragment_keys" not in store:
        page = context.template
        names = [node.keyed_name(context) for node in _nodes_in(page)] if page is not None else []
        language = get_language()
        store["case_fragment_keys"] = {
            name: fragment_key(case_id=case_id, version=version, name=name, scope=scope, language=language)
            for name in names
        }
    keys: dict[str, str] = store["case_fragment_keys"]
    return keys


def _prefetched(context: template.Context, keys: dict[str, str]) -> dict[str, str]:
    """All of the page's cached fragments in one round trip to the cache (one ``get_many``)."""
    store = context.render_context
    if "case_fragments" not in store:
        store["case_fragments"] = django_cache.get_many(list(keys.values())) if keys else {}
    fragments: dict[str, str] = store["case_fragments"]
    return fragments


# A row shows the service-level clocks ("3 h left"), which move with the time of day.
ROW_SECONDS = 60


def row_key(*, case_id: int, version: int, scope: str, language: str) -> str:
    return f"case-row:{caching.release_digest()}:{case_id}:{version}:{scope}:{language}"


class CaseRowNode(template.Node):
    """The row of ``case`` in a loop over ``page``: every row of the page is fetched from the cache in one
    ``get_many`` at the first row, and only the missing ones are rendered. No row is cached when the
    context has no ``row_scope`` (a search, whose rows show the matching words)."""

    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> SafeString | str:
        case, scope = context.get("case"), context.get("row_scope")
        if case is None or not scope:
            return self.nodelist.render(context)
        language = get_language()
        key = row_key(case_id=case.pk, version=case.live_version, scope=scope, language=language)
        store = context.render_context
        if "case_rows" not in store:
            keys = [
                row_key(case_id=row.pk, version=row.live_version, scope=scope, language=language)
                for row in context.get("page") or ()
            ]
            store["case_rows"] = django_cache.get_many(keys) if keys else {}
        html: str | None = store["case_rows"].get(key)
        metrics.case_fragment(hit=html is not None)
        if html is None:
            html = self.nodelist.render(context)
            django_cache.set(key, html, ROW_SECONDS)
        return mark_safe(html)  # noqa: S308 - rendered by the template engine


def table_key(*, scope: str, language: str, parts: object) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"case-table:{caching.release_digest()}:{scope}:{language}:{digest}"


class CaseTableNode(template.Node):
    """The case list's filters, table, count and pages, cached under what they show: the page's rows (each
    case's id and version, read in one narrow query), the count, the filters and the page number, for the
    context's ``row_scope`` (the role: a customer's filter names no organisation). A list read
    again with nothing changed is that query and one cache read: its cases are neither fetched nor
    rendered. It lives as long as a row (the service-level badges move with the time), which also bounds
    how long a new organisation without cases is missing from the filter; a list without ``row_scope``
    (a search) is never cached."""

    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> SafeString | str:
        page, scope = context.get("page"), context.get("row_scope")
        rows = getattr(page, "object_list", None)
        if page is None or not scope or not isinstance(rows, QuerySet):
            return self.nodelist.render(context)
        language = get_language()
        versions = list(rows.values_list("pk", "live_version"))
        parts = (context.get("query"), page.number, page.paginator.count, versions)
        key = table_key(scope=scope, language=language, parts=parts)
        html: str | None = django_cache.get(key)
        metrics.case_fragment(hit=html is not None)
        if html is None:
            html = self.nodelist.render(context)
            django_cache.set(key, html, ROW_SECONDS)
        return mark_safe(html)  # noqa: S308 - rendered by the template engine


@register.tag("case_table")
def case_table(parser: template.base.Parser, token: template.base.Token) -> CaseTableNode:
    nodelist = parser.parse(("endcase_table",))
    parser.delete_first_token()
    return CaseTableNode(nodelist)


@register.tag("case_row")
def case_row(parser: template.base.Parser, token: template.base.Token) -> CaseRowNode:
    nodelist = parser.parse(("endcase_row",))
    parser.delete_first_token()
    return CaseRowNode(nodelist)


@register.tag("case_fragment")
def case_fragment(parser: template.base.Parser, token: template.base.Token) -> CaseFragmentNode:
    """``{% case_fragment "name" [seconds] [by value] %}``: ``seconds`` bounds how long a fragment that also
    depends on the time of day (the service-level clocks) is served; by default the case version alone
    decides. ``by value``: the fragment also depends on that value of the context (one of its reader's
    own, such as whether they follow the case), which joins its key."""
    bits = token.split_contents()
    usage = 'usage: {% case_fragment "name" [seconds] [by value] %}...{% endcase_fragment %}'
    if len(bits) < 2 or bits[1][:1] not in {'"', "'"}:
        raise template.TemplateSyntaxError(usage)
    name, rest = bits[1][1:-1], bits[2:]
    seconds = FRAGMENT_SECONDS
    if rest and rest[0].isdigit():
        seconds, rest = int(rest[0]), rest[1:]
    by = None
    if len(rest) == 2 and rest[0] == "by":
        by, rest = parser.compile_filter(rest[1]), []
    if rest:
        raise template.TemplateSyntaxError(usage)
    nodelist = parser.parse(("endcase_fragment",))
    parser.delete_first_token()
    return CaseFragmentNode(name, nodelist, seconds, by)
