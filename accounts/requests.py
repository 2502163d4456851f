"""Requests whose user is signed in, for the type checker.

Pages behind ``login_required`` and API classes behind ``IsAuthenticated`` (the API's default) never see
an ``AnonymousUser``; these classes say so, so views pass ``request.user`` to services that take a ``User``.
"""

from __future__ import annotations

from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """A page request past ``login_required``."""

    user: User


class AuthenticatedApiRequest(Request):
    """An API request past the ``IsAuthenticated`` permission."""

    user: User
