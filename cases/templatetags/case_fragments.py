"""``{% case_fragment "name" %}...{% endcase_fragment %}``: a section of a case's pages rendered once per
case version and cached; ``{% case_row %}...{% endcase_row %}``: the same for a case's row of the case list.

Every write that changes what a case page shows raises the case's ``live_version`` (``cases.records``),
so a fragment keyed by that version is never stale; the key also holds who reads it (the context's
``fragment_scope``: their role, an account manager's own organisations), the language, and a digest of the
code, templates and translations (a deploy that changes any of them starts afresh). The forms inside keep working: the fragment is
rendered with a placeholder CSRF token that each request replaces with its own.
"""

from __future__ import annotations

from django import template
from django.core.cache import cache as django_cache
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from config import caching, metrics

register = template.Library()

# Letters and digits only, like a real token, so escaping never changes it.
CSRF_PLACEHOLDER = "casefragmentcsrfplaceholder0000000000000000000000000000000000000"
# Fragments of an old version are never asked for again; the timeout only frees their memory.
FRAGMENT_SECONDS = 3600


def fragment_key(*, case_id: int, version: int, name: str, scope: str, language: str) -> str:
    return f"case-fragment:{caching.release_digest()}:{case_id}:{version}:{name}:{scope}:{language}"


class CaseFragmentNode(template.Node):
    def __init__(self, name: str, nodelist: template.NodeList, seconds: int) -> None:
        self.name = name
        self.nodelist = nodelist
        self.seconds = seconds

    def render(self, context: template.Context) -> SafeString | str:
        case = context.get("case")
        scope = context.get("fragment_scope")
        if case is None or not scope:
            return self.nodelist.render(context)
        keys = _page_keys(context, case_id=case.pk, version=case.live_version, scope=scope)
        key = keys.get(self.name) or fragment_key(
            case_id=case.pk, version=case.live_version, name=self.name, scope=scope, language=get_language()
        )
        html = _prefetched(context, keys).get(key)
        metrics.case_fragment(hit=html is not None)
        if html is None:
            with context.push(csrf_token=CSRF_PLACEHOLDER):
                html = self.nodelist.render(context)
            django_cache.set(key, html, self.seconds)
        token = context.get("csrf_token")
        return mark_safe(html.replace(CSRF_PLACEHOLDER, str(token) if token else ""))  # noqa: S308 - rendered by the template engine


_NAMES: dict[str, tuple[str, ...]] = {}


def _names_in(page: template.base.Template) -> tuple[str, ...]:
    """The fragment names of a template (its blocks included), found once per template and process."""
    if page.origin.name not in _NAMES:
        _NAMES[page.origin.name] = tuple(
            node.name
            for node in page.nodelist.get_nodes_by_type(CaseFragmentNode)
            if isinstance(node, CaseFragmentNode)
        )
    return _NAMES[page.origin.name]


def _page_keys(context: template.Context, *, case_id: int, version: int, scope: str) -> dict[str, str]:
    """The keys of every fragment of the page being rendered, computed once per render."""
    store = context.render_context
    if "case_fragment_keys" not in store:
        page = context.template
        names = _names_in(page) if page is not None else ()
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


@register.tag("case_row")
def case_row(parser: template.base.Parser, token: template.base.Token) -> CaseRowNode:
    nodelist = parser.parse(("endcase_row",))
    parser.delete_first_token()
    return CaseRowNode(nodelist)


@register.tag("case_fragment")
def case_fragment(parser: template.base.Parser, token: template.base.Token) -> CaseFragmentNode:
    """``{% case_fragment "name" [seconds] %}``: ``seconds`` bounds how long a fragment that also depends
    on the time of day (the service-level clocks) is served; by default the case version alone decides."""
    bits = token.split_contents()
    quoted = len(bits) > 1 and bits[1][:1] in {'"', "'"}
    if len(bits) not in (2, 3) or not quoted or (len(bits) == 3 and not bits[2].isdigit()):
        raise template.TemplateSyntaxError(
            'usage: {% case_fragment "name" [seconds] %}...{% endcase_fragment %}'
        )
    nodelist = parser.parse(("endcase_fragment",))
    parser.delete_first_token()
    seconds = int(bits[2]) if len(bits) == 3 else FRAGMENT_SECONDS
    return CaseFragmentNode(bits[1][1:-1], nodelist, seconds)
