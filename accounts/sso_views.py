"""Single sign-on pages (thin: accounts/sso.py does the work): find the provider by e-mail, go to it,
come back from it."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import sso
from accounts.models import IdentityProvider

NEXT_SESSION_KEY = "sso_next"


@require_http_methods(["GET", "POST"])
def sso_choose(request: HttpRequest) -> HttpResponse:
    """``/accounts/sso/``: the work e-mail address picks the organisation's provider."""
    email = request.POST.get("email", "").strip() if request.method == "POST" else ""
    if request.method == "POST":
        provider = sso.provider_for_email(email)
        if provider is not None:
            query = "?" + urlencode({"next": request.POST["next"]}) if request.POST.get("next") else ""
            # Not a redirect: the CSP's form-action 'self' covers every redirect after a form is sent, and
            # the provider is another origin. A page that moves on by itself starts a new navigation.
            target = reverse("accounts:sso_login", args=[provider.slug]) + query
            return render(request, "accounts/sso_continue.html", {"target": target, "provider": provider})
        messages.error(
            request, _("No single sign-on is set up for that address; sign in with your password.")
        )
    return render(request, "accounts/sso_choose.html", {"email": email, "next": request.GET.get("next", "")})


def sso_login(request: HttpRequest, slug: str) -> HttpResponse:
    """``/accounts/sso/<slug>/``: to the provider's sign-in page."""
    provider = get_object_or_404(IdentityProvider, slug=slug, enabled=True)
    target = request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        request.session[NEXT_SESSION_KEY] = target
    callback = request.build_absolute_uri(reverse("accounts:sso_callback", args=[provider.slug]))
    try:
        return sso.sso_start(request=request, provider=provider, redirect_uri=callback)
    except sso.SignInRefused as refused:
        return _refused(request, refused)


def sso_callback(request: HttpRequest, slug: str) -> HttpResponse:
    """``/accounts/sso/<slug>/callback/``: the provider sends the browser back here."""
    provider = get_object_or_404(IdentityProvider, slug=slug, enabled=True)
    target = request.session.pop(NEXT_SESSION_KEY, "")
    try:
        sso.sso_finish(request=request, provider=provider)
    except sso.SignInRefused as refused:
        return _refused(request, refused)
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = settings.LOGIN_REDIRECT_URL
    return redirect(target or settings.LOGIN_REDIRECT_URL)


def _refused(request: HttpRequest, refused: sso.SignInRefused) -> HttpResponse:
    return render(request, "accounts/sso_refused.html", {"message": refused.message}, status=403)
