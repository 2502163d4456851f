"""Every route answers its own URLs: the order of config/urls.py (the case pages first, the busiest) may
change which pattern Django tries first, never which one answers."""

from __future__ import annotations

import re
import uuid

from django.urls import URLPattern, URLResolver, get_resolver, resolve

_SAMPLES = {
    "str": "CAS-12345-ABCDE",
    "int": "7",
    "uuid": str(uuid.UUID(int=7)),
    "slug": "a-slug",
    "path": "a/b",
}


def _routes(patterns: list, prefix: str = "") -> list[tuple[str, URLPattern]]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _routes(pattern.url_patterns, route)
        elif "^" not in route:  # the admin's regular expressions are its own business
            found.append((route, pattern))
    return found


def test_each_route_is_the_one_that_answers_it():
    routes = _routes(get_resolver().url_patterns)
    assert len(routes) > 50
    for route, pattern in routes:
        sample = "/" + re.sub(r"<(?:(\w+):)?\w+>", lambda m: _SAMPLES[m.group(1) or "str"], route)
        match = resolve(sample)
        assert match.func == pattern.callback, (route, sample, match.route)
