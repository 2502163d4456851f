"""``POST /api/token/``: username and password in, ``{"token": ...}`` out, for ``Authorization: Token``.
``DELETE /api/token/`` revokes the caller's own token (sign-in with it or the session)."""

from __future__ import annotations

from rest_framework import status
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response


class TokenCreateApi(ObtainAuthToken):
    def get_permissions(self):  # type: ignore[no-untyped-def]
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    def delete(self, request: Request) -> Response:
        Token.objects.filter(user=request.user).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
