"""``POST /api/token/``: username and password (and ``otp`` for staff with an authenticator) in,
``{"token": ...}`` out, for ``Authorization: Token``. ``DELETE /api/token/`` revokes the caller's token."""

from __future__ import annotations

from rest_framework import status
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import sso, throttling, tokens, two_factor
from accounts.requests import AuthenticatedApiRequest


class TokenCreateApi(ObtainAuthToken):
    def get_permissions(self):  # type: ignore[no-untyped-def]
        return [IsAuthenticated()] if self.request.method == "DELETE" else [AllowAny()]

    def post(self, request: Request, *args: object, **kwargs: object) -> Response:
        address = throttling.client_address(request)
        try:
            throttling.signin_address_check(address=address)
        except throttling.SignInThrottled as error:
            return Response(
                {"detail": error.message}, status=429, headers={"Retry-After": str(error.retry_after)}
            )
        serializer = self.get_serializer(data=request.data)
        if not serializer.is_valid():
            # django-axes refused before any password check: say so, not "Unable to log in".
            if getattr(request, "axes_locked_out", False):
                return Response({"detail": throttling.lockout_message()}, status=429)
            serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        if not sso.password_login_allowed(user):  # a token is a password sign-in too
            raise PermissionDenied(sso.password_login_refusal())
        # A token must not be a way around the second factor.
        if two_factor.two_factor_device(user) is not None:
            two_factor.two_factor_check(user=user, code=str(request.data.get("otp", "")))
        elif two_factor.two_factor_required(user):
            raise PermissionDenied("Set up two-factor sign-in in the portal before asking for a token.")
        token = tokens.token_get_or_create(user=user)
        return Response({"token": token.key, "expires_at": tokens.token_expires_at(token).isoformat()})

    def delete(self, request: AuthenticatedApiRequest) -> Response:
        tokens.token_revoke(user=request.user, reason="revoked by its owner (API)")
        return Response(status=status.HTTP_204_NO_CONTENT)
