"""Sign-in related pages that Django's auth views do not cover."""

from __future__ import annotations

import base64
import math
from typing import Any

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts import throttling, tokens, two_factor
from accounts.forms import ProfileForm
from accounts.middleware import DISPLAY_LANGUAGE_SESSION_KEY, USER_LANGUAGE_SESSION_KEY
from accounts.requests import AuthenticatedRequest
from accounts.services import profile_save
from cases.errors import DomainError


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """The header's language switch: the pages of this session only. The saved language, which the
    documents and e-mails sent to this person use, changes only on the profile page."""
    language = request.POST.get("language", "")
    target = request.POST.get("next", "/")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    if language in dict(settings.LANGUAGES):
        request.session[DISPLAY_LANGUAGE_SESSION_KEY] = language
    return redirect(target)


@login_required
def profile(request: AuthenticatedRequest) -> HttpResponse:
    """The person's own name and saved language (documents and e-mails to them use it)."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        user = profile_save(user=request.user, **form.cleaned_data)
        # The pages follow the saved language from now on, this session's switch included.
        request.session[USER_LANGUAGE_SESSION_KEY] = user.language
        request.session.pop(DISPLAY_LANGUAGE_SESSION_KEY, None)
        messages.success(request, _("Your profile is saved."))
        return redirect("accounts:profile")
    return render(request, "accounts/profile.html", {"form": form})


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    return redirect("cases:list")


def lockout(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """What a locked-out sign-in sees (django-axes): a clear message and when to try again (the time
    left of this lockout: attempts during it never extend it)."""
    username = str((credentials or {}).get("username", ""))
    left = throttling.lockout_remaining(username=username, address=throttling.client_address(request))
    seconds = left.total_seconds() if left is not None else settings.AXES_COOLOFF_TIME.total_seconds()
    minutes = max(1, math.ceil(seconds / 60))
    response = render(request, "accounts/locked.html", {"cooloff_minutes": minutes}, status=429)
    response["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response


class SignInView(LoginView):
    """Django's sign-in page, with the address check first: an address failing for many user names
    waits its turn (429 with the wait), before any password is checked or counted."""

    template_name = "accounts/login.html"

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        try:
            throttling.signin_address_check(address=throttling.client_address(request))
        except throttling.SignInThrottled as error:
            form = self.get_form()
            form.is_bound = False  # show the form again, not its field errors
            response = self.render_to_response(self.get_context_data(form=form, throttled=error.message))
            response.status_code = 429
            response["Retry-After"] = str(error.retry_after)
            return response
        return super().post(request, *args, **kwargs)


@login_required
def two_factor_setup(request: AuthenticatedRequest) -> HttpResponse:
    """Staff add an authenticator app: scan the code, type the current six digits."""
    if request.method == "POST":
        try:
            two_factor.two_factor_enrolment_confirm(
                request=request, user=request.user, code=request.POST.get("code", "")
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Two-factor sign-in is on."))
            return redirect("cases:list")
    try:
        device = two_factor.two_factor_enrolment_start(user=request.user)
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("cases:list")
    qr = segno.make(device.config_url, error="m")
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "qr_data_uri": qr.svg_data_uri(scale=5),
            "secret": base64.b32encode(device.bin_key).decode(),
            "required": two_factor.two_factor_required(request.user),
        },
    )


@login_required
def two_factor_verify(request: AuthenticatedRequest) -> HttpResponse:
    """The second step of signing in for staff with an authenticator."""
    if request.method == "POST":
        try:
            two_factor.two_factor_verify(
                request=request, user=request.user, code=request.POST.get("code", "")
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            target = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
                target = settings.LOGIN_REDIRECT_URL
            return redirect(target)
    return render(request, "accounts/two_factor_verify.html")


@login_required
def token_list(request: AuthenticatedRequest) -> HttpResponse:
    """The signed-in user's API tokens: when each expires, revoke, or make a new one (shown once)."""
    now = timezone.now()
    rows = [
        {
            "start": token.key[:6],
            "created": token.created,
            "expires": tokens.token_expires_at(token),
            "expired": tokens.token_expires_at(token) <= now,
        }
        for token in tokens.token_list_for_user(user=request.user)
    ]
    return render(
        request,
        "accounts/tokens.html",
        {
            "tokens": rows,
            "expiry_days": settings.API_TOKEN_EXPIRY_DAYS,
            "new_key": request.session.pop("new_token_key", None),
        },
    )


@login_required
@require_POST
def token_create(request: AuthenticatedRequest) -> HttpResponse:
    token = tokens.token_create(user=request.user)
    # Shown once on the next page (POST-redirect-GET), never again: the session forgets it there.
    request.session["new_token_key"] = token.key
    return redirect("accounts:tokens")


@login_required
@require_POST
def token_revoke(request: AuthenticatedRequest) -> HttpResponse:
    key_start = request.POST.get("key_start", "").strip()
    if len(key_start) < 6 or not tokens.token_revoke(
        user=request.user, key_start=key_start, reason="revoked by its owner (page)"
    ):
        messages.error(request, _("No such token."))
    else:
        messages.success(request, _("Token revoked: scripts using it are refused from now on."))
    return redirect("accounts:tokens")
