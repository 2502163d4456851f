"""What every template knows of the signed-in user's capabilities (``accounts.capabilities``)."""

from __future__ import annotations

from django.http import HttpRequest

from accounts.capabilities import Capabilities


def capabilities(request: HttpRequest) -> dict[str, Capabilities]:
    """``can.<capability>`` in templates, each answered when first asked."""
    return {"can": Capabilities(request.user)}
