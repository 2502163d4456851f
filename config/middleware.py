"""Refuse requests carrying a NUL character before any of it reaches a query, a session or a form.

PostgreSQL cannot store NUL in text (psycopg2 raises ``ValueError`` for the literal, and ``jsonb`` refuses
``\\u0000``), so a NUL in a case number, a search box, a filter, a cookie or a JSON body was a 500 there
and a silent difference from SQLite. No route of the portal has a use for one: file bytes travel as
``application/offset+octet-stream`` (tus) or multipart file parts, which are never inspected here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _

NUL = "\x00"
# Bodies whose text is read as fields; anything else (tus chunks, files) is opaque bytes.
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_JSON_TYPES = ("application/json",)


def _has_nul(values: Iterable[str]) -> bool:
    return any(NUL in value for value in values)


def _json_has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(NUL in key or _json_has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_json_has_nul(item) for item in value)
    return False


def request_nul_part(request: HttpRequest) -> str | None:
    """Which part of the request carries a NUL (``path``, ``query``, ``header``, ``body``), or None."""
    # The server decoded the path once and Django decodes the query once: a NUL, or one spelt "%00",
    # becomes a NUL. A plain search of the text, every request's cost (no decoding copy).
    meta = request.META
    path_info = meta.get("PATH_INFO", "")
    if NUL in request.path or NUL in path_info or "%00" in path_info:
        return "path"
    query = meta.get("QUERY_STRING", "")
    if NUL in query or "%00" in query:
        return "query"
    if _has_nul(str(value) for key, value in meta.items() if key.startswith("HTTP_")):
        return "header"
    # A quoted cookie may spell NUL as an octal escape ("\\000"), which the cookie parser decodes.
    if _has_nul(request.COOKIES.keys()) or _has_nul(request.COOKIES.values()):
        return "header"
    if request.method in {"GET", "HEAD", "OPTIONS", "DELETE"}:
        return None
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        # Reading POST here is what CsrfViewMiddleware does next anyway; file parts are not looked at.
        if _has_nul(request.POST.keys()) or _has_nul(v for values in request.POST.lists() for v in values[1]):
            return "body"
        if _has_nul(f.name or "" for files in request.FILES.lists() for f in files[1]):
            return "body"
    elif content_type in _JSON_TYPES:
        length = int(request.META.get("CONTENT_LENGTH") or 0) if _ascii_int(request) else 0
        if 0 < length <= settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            try:
                document = json.loads(request.body)
            except (ValueError, UnicodeDecodeError):
                return None  # not JSON: the view's parser answers 400 itself
            if _json_has_nul(document):
                return "body"
    return None


def _ascii_int(request: HttpRequest) -> bool:
    value = request.META.get("CONTENT_LENGTH") or "0"
    return value.isascii() and value.isdigit()


class RejectNulMiddleware:
    """400 with the reason for any request with a NUL in its path, query, headers or form/JSON body."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        part = request_nul_part(request)
        if part is None:
            return self.get_response(request)
        message = _("The request's %(part)s contains a NUL character, which is never valid here.") % {
            "part": part
        }
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message}, status=400)
        return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")
