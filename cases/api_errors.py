"""Maps domain errors to API answers: 400/403 with the reason, nothing changed."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cases.errors import DomainError


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        response = Response({"detail": exc.message}, status=exc.status_code)
        if exc.status_code == 503:  # a store or service that is down: clients wait before trying again
            response["Retry-After"] = "30"
        return response
    return drf_exception_handler(exc, context)
