from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver


def _address(request: Any) -> str:
    from accounts.throttling import client_address

    return client_address(request) if request is not None and hasattr(request, "META") else ""


@receiver(user_logged_in)
def remember_user_language(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The user's saved language wins over the browser's from the moment they sign in."""
    if user.language and request is not None and hasattr(request, "session"):
        request.session["user_language"] = user.language


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from cases.models import AuditEvent

    AuditEvent.objects.create(actor=user, action="login", data={"address": _address(request)})


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from cases.models import AuditEvent

    if user is not None:
        AuditEvent.objects.create(actor=user, action="logout", data={"address": _address(request)})


@receiver(user_login_failed)
def audit_login_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Every failed sign-in is in the audit trail, with the name tried (never the password)."""
    from cases.models import AuditEvent

    AuditEvent.objects.create(
        action="login_failed",
        data={"username": str(credentials.get("username", ""))[:150], "address": _address(request)},
    )
