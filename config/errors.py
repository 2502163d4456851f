"""Error pages in the site's layout and the reader's language, with a way back (403, 404, 500, CSRF)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent from a page that expired (or from another site) is refused with the
    way to send it again, not Django's bare page."""
    return render(request, "errors/csrf.html", {"reason": reason}, status=403)


class FriendlyNotFoundMiddleware:
    """With DEBUG on (``make run``), a URL that does not exist still gets the site's 404 page, not Django's
    debug page listing every route; production renders 404.html by itself. The API keeps its JSON."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and not request.path.startswith(("/api/", "/static/"))
            and response.get("Content-Type", "").startswith("text/html")
        ):
            response = render(request, "404.html", {"request_path": request.path}, status=404)
        return response
