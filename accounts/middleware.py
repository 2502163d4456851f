"""Use the signed-in user's chosen language, and hold staff at the second factor until they pass it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import middleware as auth_middleware
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.middleware import OTPMiddleware
from django_otp.models import Device

from accounts.two_factor import session_device, two_factor_device, two_factor_required

# The header's switch, for this session's pages only; the signed-in user's saved language, put in the
# session at sign-in (accounts.signals) and by the profile page.
DISPLAY_LANGUAGE_SESSION_KEY = "display_language"
USER_LANGUAGE_SESSION_KEY = "user_language"


class LanguageMiddleware:
    """Which language the pages speak: this session's switch, else the signed-in user's saved language,
    else the browser's (Accept-Language), else the site's.

    Django's LocaleMiddleware, which this replaces, reads a cookie and handles language prefixes in URLs,
    which the portal has neither of, and cost four times as much on every request. A language cookie left
    by an older version is ignored: it would outrank the browser on anonymous pages."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = _session_language(request)
        if language is None:
            request.COOKIES.pop(settings.LANGUAGE_COOKIE_NAME, None)
            language = translation.get_language_from_request(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        # Without a session's choice the page depends on the browser's header: caches must know.
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", language)
        return response


def _session_language(request: HttpRequest) -> str | None:
    session = getattr(request, "session", None)
    if session is None:
        return None
    chosen = session.get(DISPLAY_LANGUAGE_SESSION_KEY) or session.get(USER_LANGUAGE_SESSION_KEY)
    if not chosen:
        return None
    try:
        return translation.get_supported_language_variant(chosen)
    except LookupError:
        return None  # a language the site no longer speaks


class StampedOTPMiddleware(OTPMiddleware):  # type: ignore[misc]  # django-otp has no type hints
    """django-otp's middleware (``request.user.is_verified()``), with the session's device looked up only
    when the user's second-factor stamp moved since the session last found it
    (accounts.two_factor.session_device).

    The user is resolved here, not behind django-otp's lazy object around Django's: TwoFactorMiddleware,
    next, reads it on every request anyway, and each later read of an attribute would go through both."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._is_async:
            return super().__call__(request)  # type: ignore[no-any-return]
        request.user = self._verify_user_sync(request, auth_middleware.get_user(request))
        return self.get_response(request)  # type: ignore[no-any-return]

    def _verify_user_sync(self, request: HttpRequest, user: Any) -> Any:
        self._init_user_fields(user)
        persistent_id = request.session.get(DEVICE_ID_SESSION_KEY) if user.is_authenticated else None
        if persistent_id:
            device = session_device(
                session=request.session,
                user=user,
                persistent_id=self._normalize_persistent_id(persistent_id),
                load=Device.from_persistent_id,
            )
            user.otp_device = self._finalize_device(request, user, device)
        return user


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
