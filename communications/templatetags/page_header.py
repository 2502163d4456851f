"""``{% page_header %}...{% endpage_header %}``: the top bar of every page, rendered once per reader and
kept in the cache.

What it shows is who reads (name, role, what the role may open), the language and the unread count: all
of them make its key, so a change to any is a new header at once (the count is forgotten when a notice
arrives or is read). What each request has of its own, the CSRF token and the address the language switch
returns to, are put in the cached HTML in place of placeholders.
"""

from __future__ import annotations

import hashlib

from django import template
from django.core.cache import cache
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from communications.selectors import notifications_unread_count
from config import caching

register = template.Library()

HEADER_SECONDS = 300
PATH_PLACEHOLDER = "pageheaderpathplaceholder0000000000000000"


def header_key(*parts: object) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
    return f"page-header:{caching.release_digest()}:{digest}"


class PageHeaderNode(template.Node):
    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> SafeString | str:
        request = context.get("request")
        user = getattr(request, "user", None)
        path = request.get_full_path() if request is not None else ""
        if user is None or not user.is_authenticated:
            with context.push(next_path=path):
                return self.nodelist.render(context)
        unread = notifications_unread_count(user=user)
        key = header_key(
            user.pk, str(user), user.role, user.is_superuser, user.is_active, get_language(), unread
        )
        html: str | None = cache.get(key)
        if html is None:
            with context.push(csrf_token=caching.CSRF_PLACEHOLDER, next_path=PATH_PLACEHOLDER, unread=unread):
                html = self.nodelist.render(context)
            cache.set(key, html, HEADER_SECONDS)
        token = context.get("csrf_token")
        html = html.replace(caching.CSRF_PLACEHOLDER, str(token) if token else "")
        return mark_safe(html.replace(PATH_PLACEHOLDER, escape(path)))  # noqa: S308 - rendered by the template engine, the path escaped


@register.tag("page_header")
def page_header(parser: template.base.Parser, token: template.base.Token) -> PageHeaderNode:
    nodelist = parser.parse(("endpage_header",))
    parser.delete_first_token()
    return PageHeaderNode(nodelist)
