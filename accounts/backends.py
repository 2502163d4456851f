"""How a signed-in session finds its user on every request."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend

from accounts.models import User
from config.prepared import PreparedLookup

# The path sessions record at sign-in (django.contrib.auth.login's ``backend``).
USER_BACKEND = "accounts.backends.UserBackend"

_user_by_id = PreparedLookup(lambda user_id: User._default_manager.filter(pk=user_id), 0)


class UserBackend(ModelBackend):
    """Django's ModelBackend (passwords, permissions, inactive users refused), reading the session's user
    with the statement the ORM built the first time (config.prepared): every signed-in request reads it,
    and building it was most of the work of the smallest of them."""

    def get_user(self, user_id: Any) -> User | None:
        try:
            user = _user_by_id.first(int(user_id))
        except (TypeError, ValueError):
            return None  # a session naming no valid id is signed out, as ModelBackend's own lookup would
        return user if user is not None and self.user_can_authenticate(user) else None
