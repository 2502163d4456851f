"""Use the signed-in user's chosen language, and hold staff at the second factor until they pass it."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django_otp.middleware import OTPMiddleware
from django_otp.models import Device

from accounts.two_factor import device_cached, two_factor_device, two_factor_required

# The header's switch, for this session's pages only; the signed-in user's saved language, put in the
# session at sign-in (accounts.signals) and by the profile page.
DISPLAY_LANGUAGE_SESSION_KEY = "display_language"
USER_LANGUAGE_SESSION_KEY = "user_language"


class UserLanguageMiddleware:
    """Which language the pages speak: this session's switch, else the signed-in user's saved language,
    else the browser's (LocaleMiddleware reads the value put here, and Accept-Language without one).

    A language cookie left by an older version would outrank the browser for anonymous pages: ignored."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        language = None
        if session is not None:
            language = session.get(DISPLAY_LANGUAGE_SESSION_KEY) or session.get(USER_LANGUAGE_SESSION_KEY)
        if language:
            request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = language
        else:
            request.COOKIES.pop(settings.LANGUAGE_COOKIE_NAME, None)
        return self.get_response(request)


class CachedOTPMiddleware(OTPMiddleware):  # type: ignore[misc]  # django-otp has no type hints
    """django-otp's middleware (``request.user.is_verified()``), with the session's device read through
    the shared cache rather than queried on every request (accounts.two_factor.device_cached)."""

    def _device_from_persistent_id(self, persistent_id: str) -> Device | None:
        return device_cached(self._normalize_persistent_id(persistent_id), super()._device_from_persistent_id)


# Paths a signed-in user may reach before passing the second factor.
# A session of staff without an authenticator remembers it, so each request skips the device look-up;
# setting one up verifies the session, which makes the mark moot.
NO_DEVICE_SESSION_KEY = "two_factor_no_device"
SSO_MFA_SESSION_KEY = "sso_mfa"  # accounts.sso.SSO_MFA_SESSION_KEY
_OPEN_PREFIXES = ("/accounts/two-factor/", "/accounts/logout/", "/accounts/language/", "/static/", "/healthz")


class TwoFactorMiddleware:
    """A session signed in with a password only is held at the code page when the user has an
    authenticator, or at the set-up page when their role requires one. Token-authenticated API calls
    are not session sign-ins and are handled by the token endpoint."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and (user.is_support_staff or user.is_superuser)  # customers never have a second factor
            and not request.path.startswith(_OPEN_PREFIXES)
            # A provider that asserted a second factor (amr) counts as one (accounts/sso.py).
            and not user.is_verified()
            and not request.session.get(SSO_MFA_SESSION_KEY)
        ):
            if not request.session.get(NO_DEVICE_SESSION_KEY):
                if two_factor_device(user) is not None:
                    return self._hold(request, "accounts:two_factor_verify")
                request.session[NO_DEVICE_SESSION_KEY] = True
            if two_factor_required(user):
                return self._hold(request, "accounts:two_factor_setup")
        return self.get_response(request)

    @staticmethod
    def _hold(request: HttpRequest, url_name: str) -> HttpResponse:
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Two-factor verification required."}, status=403)
        return redirect(url_name)
