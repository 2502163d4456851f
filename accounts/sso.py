"""Single sign-on with OpenID Connect, one provider per organisation (and one for staff), through Authlib.

Authlib's Django client does the protocol: the authorisation request with state, nonce and PKCE, the
code exchange, and the ID token's checks (signature against the provider's published keys, fetched
again once when the key id is unknown, issuer, audience, expiry, nonce). This module picks the provider,
maps every refusal to a clear message with an audit entry, and matches or creates the user:

- a person is matched by their verified e-mail address (``email_verified``, or a provider marked
  ``trust_email``), and must belong to the provider's organisation (staff: the staff provider);
- unknown people are created with the provider's role when it allows it;
- staff still pass the portal's second factor unless the provider asserts one (``amr``, RFC 8176).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, NoReturn

from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, InvalidKeyIdError, JoseError

from accounts.backends import USER_BACKEND

# A session whose staff member proved a second factor at their provider: accounts.middleware reads it.
from accounts.middleware import SSO_MFA_SESSION_KEY
from accounts.models import IdentityProvider, Organisation, User
from cases.audit import AuditAction, audit_record
from cases.errors import DomainError

logger = logging.getLogger("portal.security")

SSO_PROVIDER_SESSION_KEY = "sso_provider"
# RFC 8176 methods that are a factor beyond a password: any of them (or "mfa" itself) counts.
SECOND_FACTOR_METHODS = frozenset(
    {"mfa", "otp", "hwk", "swk", "sms", "tel", "sc", "fpt", "face", "iris", "retina", "vbm", "pin"}
)
DISCOVERY_PATH = "/.well-known/openid-configuration"


class SignInRefused(DomainError):
    """Single sign-on refused; ``message`` is shown on the sign-in page, ``reason`` audited."""

    status_code = 403

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class SignedIn:
    user: User
    created: bool
    second_factor: bool


# -- providers -----------------------------------------------------------------------------------------


def provider_for_email(email: str) -> IdentityProvider | None:
    """The enabled provider whose e-mail domains include this address's domain."""
    domain = email.strip().lower().rpartition("@")[2]
    if not domain:
        return None
    for provider in IdentityProvider.objects.filter(enabled=True).exclude(email_domains=""):
        if domain in provider.domains():
            return provider
    return None


_versions: dict[int, str] = {}
_registry: Any = None


def provider_client(provider: IdentityProvider) -> Any:
    """Authlib's client for a provider, kept per process so its discovery document and keys are fetched
    once (a changed provider is registered again)."""
    global _registry
    if _registry is None:
        _registry = OAuth()
    name = f"sso-{provider.pk}"
    version = f"{provider.issuer}|{provider.client_id}|{provider.client_secret}"
    if _versions.get(provider.pk) != version:
        _registry.register(
            name=name,
            overwrite=True,
            client_id=provider.client_id,
            client_secret=provider.client_secret,
            server_metadata_url=provider.issuer.rstrip("/") + DISCOVERY_PATH,
            client_kwargs={
                "scope": "openid email profile",
                "code_challenge_method": "S256",
                "timeout": settings.SSO_TIMEOUT,
            },
        )
        _registry._clients.pop(name, None)  # made again from the new registration
        _versions[provider.pk] = version
    return _registry.create_client(name)


def sso_start(*, request: HttpRequest, provider: IdentityProvider, redirect_uri: str) -> HttpResponse:
    """Send the browser to the provider (state, nonce and PKCE verifier kept in the session)."""
    if not provider.enabled:
        raise SignInRefused(_("This single sign-on is turned off."), reason="provider disabled")
    client = provider_client(provider)
    try:
        metadata = client.load_server_metadata()
    except Exception as error:
        _audit_refusal(request, provider, f"discovery failed: {error}")
        raise SignInRefused(
            _("Your organisation's sign-in service does not answer; try again later or use your password."),
            reason="discovery failed",
        ) from error
    if metadata.get("issuer", "").rstrip("/") != provider.issuer.rstrip("/"):
        _audit_refusal(request, provider, f"discovery names issuer {metadata.get('issuer')!r}")
        raise SignInRefused(
            _("Your organisation's sign-in service is misconfigured (wrong issuer); ask your administrator."),
            reason="wrong issuer in discovery",
        )
    response: HttpResponse = client.authorize_redirect(request, redirect_uri)  # authlib: no types
    return response


def sso_finish(*, request: HttpRequest, provider: IdentityProvider) -> SignedIn:
    """The provider sent the browser back: exchange the code, check the ID token, sign the person in.

    Every refusal raises SignInRefused with the message to show and is audited (``sso_refused``)."""
    if request.GET.get("error"):
        description = request.GET.get("error_description", "")[:200]
        _audit_refusal(request, provider, f"provider error {request.GET['error'][:50]}: {description}")
        raise SignInRefused(
            _("Your organisation's sign-in service did not sign you in (%(error)s).")
            % {"error": request.GET["error"][:50]},
            reason="provider error",
        )
    client = provider_client(provider)
    try:
        token = client.authorize_access_token(
            request, claims_options={"iss": {"essential": True, "values": [provider.issuer.rstrip("/")]}}
        )
    except Exception as error:
        message, reason = _explain(error)
        _audit_refusal(request, provider, f"{reason}: {type(error).__name__}: {error}"[:500])
        raise SignInRefused(message, reason=reason) from error
    claims = dict(token.get("userinfo") or {})
    if not claims:
        _audit_refusal(request, provider, "no ID token")
        raise SignInRefused(
            _("The sign-in service sent no identity; ask your administrator."), reason="no id token"
        )
    signed_in = sso_user_for_claims(provider=provider, claims=claims, request=request)
    with transaction.atomic():
        login(request, signed_in.user, backend=USER_BACKEND)
    request.session[SSO_PROVIDER_SESSION_KEY] = provider.slug
    if signed_in.second_factor:
        request.session[SSO_MFA_SESSION_KEY] = True
    return signed_in


def _explain(error: Exception) -> tuple[str, str]:
    """The message for a refused ID token or code exchange, and a short reason for the audit trail."""
    if isinstance(error, MismatchingStateError):
        return _("This sign-in link was already used or has expired; start again."), "state mismatch"
    if isinstance(error, ExpiredTokenError):
        return _("The sign-in has expired; start again."), "expired token"
    if isinstance(error, ClaimError):
        reasons = {
            "aud": _("The sign-in was issued for another application (wrong audience)."),
            "iss": _("The sign-in came from another issuer than your organisation's."),
            "nonce": _("The sign-in does not belong to this attempt (nonce mismatch); start again."),
            # A token for several audiences must name us as its authorised party: same refusal.
            "azp": _("The sign-in was issued for another application (wrong audience)."),
        }
        message = reasons.get(
            error.claim,
            _("The sign-in service sent an identity that is not valid (%(claim)s).") % {"claim": error.claim},
        )
        return message, f"invalid claim {error.claim}"
    if isinstance(error, InvalidKeyIdError):
        # Checked after fetching the provider's keys again: the key was retired (or never the provider's).
        return (
            _("The sign-in is signed with a key the provider no longer publishes; ask your administrator."),
            "unknown signing key",
        )
    if isinstance(error, BadSignatureError | JoseError):
        return _("The sign-in's signature does not verify; ask your administrator."), "bad signature"
    if isinstance(error, OAuthError):
        return (
            _("The sign-in service refused the sign-in (%(error)s).") % {"error": str(error.error)[:50]},
            "oauth error",
        )
    return _("Your organisation's sign-in service does not answer; try again later."), "provider unreachable"


def _audit_refusal(request: HttpRequest | None, provider: IdentityProvider, detail: str) -> None:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    audit_record(
        actor=None,
        action=AuditAction.SSO_REFUSED,
        data={"provider": provider.slug, "reason": detail[:500], "address": address},
    )
    logger.warning("single sign-on refused (%s): %s", provider.slug, detail)


# -- the person --------------------------------------------------------------------------------------------


def has_second_factor(claims: dict[str, Any]) -> bool:
    """Whether the provider asserts the person used a second factor (``amr`` of RFC 8176)."""
    methods = claims.get("amr") or []
    if isinstance(methods, str):
        methods = [methods]
    return any(str(method).lower() in SECOND_FACTOR_METHODS for method in methods)


def sso_user_for_claims(
    *, provider: IdentityProvider, claims: dict[str, Any], request: HttpRequest | None = None
) -> SignedIn:
    """Match the verified e-mail to a user of the provider's organisation (or staff), or create one."""
    email = _verified_email(provider=provider, claims=claims, request=request)
    user, created = _user_for_email(provider=provider, email=email, claims=claims, request=request)
    second_factor = (user.is_support_staff or user.is_superuser) and has_second_factor(claims)
    audit_record(
        actor=user,
        action=AuditAction.SSO_LOGIN,
        data={
            "provider": provider.slug,
            "sub": str(claims.get("sub", ""))[:200],
            "created": created,
            "second_factor": second_factor,
        },
    )
    return SignedIn(user=user, created=created, second_factor=second_factor)


def _refuse(
    request: HttpRequest | None, provider: IdentityProvider, detail: str, message: str, reason: str
) -> NoReturn:
    """Audit the refusal with its detail, then refuse with the message people read."""
    _audit_refusal(request, provider, detail)
    raise SignInRefused(message, reason=reason)


def _verified_email(
    *, provider: IdentityProvider, claims: dict[str, Any], request: HttpRequest | None
) -> str:
    """The identity's e-mail address, when the provider says it is verified (or is trusted to)."""
    email = str(claims.get("email") or "").strip()
    verified = claims.get("email_verified")
    if not email or "@" not in email:
        _refuse(
            request,
            provider,
            f"no e-mail in the identity (sub {claims.get('sub')!r})",
            _(
                "Your organisation's sign-in service did not give your e-mail address; ask your administrator."
            ),
            "no email",
        )
    if not (
        verified is True or str(verified).lower() == "true" or (verified is None and provider.trust_email)
    ):
        _refuse(
            request,
            provider,
            f"e-mail {email} not verified",
            _("Your e-mail address is not verified at your organisation's sign-in service."),
            "email not verified",
        )
    return email


def _user_for_email(
    *, provider: IdentityProvider, email: str, claims: dict[str, Any], request: HttpRequest | None
) -> tuple[User, bool]:
    """The one active user of the provider's side with this address, or a new one; and whether new."""
    matches = list(User.objects.filter(email__iexact=email)[:2])
    if len(matches) > 1:
        _refuse(
            request,
            provider,
            f"e-mail {email} belongs to several users",
            _("Several accounts have this e-mail address; ask the support team to sign you in."),
            "ambiguous email",
        )
    if not matches:
        if not provider.create_users:
            _refuse(
                request,
                provider,
                f"unknown e-mail {email}",
                _("You have no account on this portal yet; ask the support team to invite you."),
                "unknown user",
            )
        return _user_create(provider=provider, email=email, claims=claims), True
    user = matches[0]
    if not _belongs(user, provider):
        _refuse(
            request,
            provider,
            f"user {user.username} is not of {provider.slug}'s organisation",
            _("This account does not belong to the organisation of this sign-in service."),
            "other organisation",
        )
    if not user.is_active:
        _refuse(
            request,
            provider,
            f"user {user.username} is deactivated",
            _("This account is deactivated."),
            "inactive",
        )
    return user, False


def _belongs(user: User, provider: IdentityProvider) -> bool:
    if provider.for_staff:
        return user.is_support_staff or user.is_superuser
    return user.is_customer and user.organisation_id == provider.organisation_id


def _username_for(email: str) -> str:
    base = re.sub(r"[^\w.@+-]", "_", email.lower())[:140]
    candidate, number = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _user_create(*, provider: IdentityProvider, email: str, claims: dict[str, Any]) -> User:
    role = provider.new_user_role
    if provider.for_staff and role == User.Role.CUSTOMER:
        role = User.Role.ENGINEER  # a staff provider never makes customers
    if not provider.for_staff:
        role = User.Role.CUSTOMER  # nor an organisation's provider staff
    user = User(
        username=_username_for(email),
        email=email,
        first_name=str(claims.get("given_name") or "")[:150],
        last_name=str(claims.get("family_name") or "")[:150],
        role=role,
        organisation=None if provider.for_staff else provider.organisation,
    )
    user.set_unusable_password()
    user.save()
    return user


# -- password sign-in --------------------------------------------------------------------------------------


def password_login_allowed(user: User) -> bool:
    """Password sign-in is off for members of an organisation that turned it off, and for staff when
    STAFF_PASSWORD_LOGIN is off (then they use the staff provider)."""
    if user.is_superuser:
        return True
    if user.is_support_staff:
        return bool(settings.STAFF_PASSWORD_LOGIN)
    organisation: Organisation | None = user.organisation
    return organisation is None or organisation.password_login


def password_login_refusal() -> str:
    return _("Your organisation signs in with single sign-on: use “Sign in with your organisation”.")
