"""Use the signed-in user's chosen language before the browser's."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class UserLanguageMiddleware:
    """Sets the language cookie value LocaleMiddleware reads, from the user's setting if they have one.

    Runs before AuthenticationMiddleware, so it reads the user lazily from the session on demand only
    when there is a session cookie.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            language = request.session.get("user_language") if hasattr(request, "session") else None
            if language:
                request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = language
        return self.get_response(request)
