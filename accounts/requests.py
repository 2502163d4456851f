"""Requests whose user is signed in, for the type checker.

Pages behind ``login_required`` and API classes behind ``IsAuthenticated`` (the API's default) never see
an ``AnonymousUser``; these classes say so, so views pass ``request.user`` to services that take a ``User``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.request import Request

from accounts.models import User


class AuthenticatedRequest(HttpRequest):
    """A page request past ``login_required``."""

    user: User


class AuthenticatedApiRequest(Request):
    """An API request past the ``IsAuthenticated`` permission."""

    user: User


def signed_in_user(request: HttpRequest | Request) -> User:
    """The user of a request that passed a sign-in check the type checker cannot see (the admin site's
    own in a ``ModelAdmin`` method, the API's permission in ``get_queryset``); a request without one is refused, as the check itself would."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
