"""Absolute links to this site, for e-mails, documents and commands (never the request's host, which
behind a proxy may be an internal name)."""

from __future__ import annotations

from django.conf import settings


def site_url(path: str) -> str:
    """``path`` on this site: ``SITE_URL`` (which ``make run`` sets from its port) plus the path."""
    return settings.SITE_URL.rstrip("/") + path
