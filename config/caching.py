"""What the configured cache can be trusted with."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.conf import settings

# What cached HTML holds where each request puts its own CSRF token: letters and digits only, like a real
# token, so escaping never changes it.
CSRF_PLACEHOLDER = "casefragmentcsrfplaceholder0000000000000000000000000000000000000"


def cache_is_shared() -> bool:
    """Whether every process (web workers, Celery workers) sees the same cache: a local-memory cache is
    per process, so a value one process forgets stays stale in the others."""
    backend = str(settings.CACHES["default"]["BACKEND"])
    return not backend.endswith(("LocMemCache", "DummyCache"))


# What cached HTML is made from, besides the rows it shows.
RELEASE_PARTS = (
    "templates",
    "locale",
    "accounts",
    "analysis",
    "cases",
    "communications",
    "oversight",
    "uploads",
    # Cached HTML links stylesheets and scripts by their hashed names (ManifestStaticFilesStorage): a new
    # stylesheet must not leave sections pointing at the old file.
    "static",
)
RELEASE_SUFFIXES = frozenset({".html", ".txt", ".py", ".mo", ".csv", ".css", ".js", ".svg"})


@cache
def release_digest() -> str:
    """A digest of the code, templates, compiled translations and static files, read once per process: part
    of the key of everything cached as HTML, so a deploy that changes how a page looks never serves the old
    one."""
    digest = hashlib.sha256()
    base = Path(settings.BASE_DIR)
    for part in RELEASE_PARTS:
        for path in sorted((base / part).rglob("*")):
            if path.suffix in RELEASE_SUFFIXES and "migrations" not in path.parts:
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
