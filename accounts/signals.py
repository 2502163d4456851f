from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver


@receiver(user_logged_in)
def remember_user_language(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The user's saved language wins over the browser's from the moment they sign in."""
    if user.language and request is not None and hasattr(request, "session"):
        request.session["user_language"] = user.language
