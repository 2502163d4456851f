"""The request id: every answer carries ``X-Request-ID`` and every log line of the request has it, as do
the Celery tasks it queues (django-guid's Celery signals and log filter read it with ``get_guid``).

django-guid's own middleware does the same with half a dozen log calls and settings reads per request,
a thirtieth of the smallest signed-in request's work; this one sets the id through its public API."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django_guid import clear_guid, set_guid

HEADER = "X-Request-ID"


def _client_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


class RequestIdMiddleware:
    """A client's UUID is kept; anything else (absent, malformed, a log line forged in the header) is
    replaced with a new one and never logged."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(HEADER, "")
        request_id = given if given and _client_uuid(given) else uuid.uuid4().hex
        set_guid(request_id)
        try:
            response = self.get_response(request)
        finally:
            clear_guid()
        response[HEADER] = request_id
        return response
