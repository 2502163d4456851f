"""API tokens (``Authorization: Token ...``) with a lifetime: they expire API_TOKEN_EXPIRY_DAYS after
they were made, and every token of a user is revoked when the password changes or the account is
deactivated (a stolen token must not outlive the password that was reset because of it)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from accounts.models import User
from cases.audit import AuditAction, audit_record


def token_expires_at(token: Token) -> datetime:
    expires: datetime = token.created + timedelta(days=settings.API_TOKEN_EXPIRY_DAYS)
    return expires


def token_list_for_user(*, user: User) -> list[Token]:
    """The user's tokens, newest first (DRF keeps one per user)."""
    return list(Token.objects.filter(user=user).order_by("-created"))


def token_create(*, user: User) -> Token:
    """A new token for the user, replacing the one they had (its scripts stop working), audited."""
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        token = Token.objects.create(user=user)
        audit_record(actor=user, action=AuditAction.API_TOKEN_CREATED, data={"key_start": token.key[:6]})
    return token


def token_get_or_create(*, user: User) -> Token:
    """The user's token for ``POST /api/token/``: the live one, or a new one when it expired."""
    token = Token.objects.filter(user=user).first()
    if token is not None and token_expires_at(token) > timezone.now():
        return token
    return token_create(user=user)


def token_revoke(*, user: User, key_start: str = "", reason: str = "revoked") -> int:
    """Revoke the user's tokens (only the one starting with ``key_start`` when given); audited with the
    reason. Returns how many were revoked."""
    with transaction.atomic():
        tokens = Token.objects.filter(user=user)
        if key_start:
            tokens = tokens.filter(key__startswith=key_start)
        revoked = [token.key[:6] for token in tokens]
        tokens.delete()
        for start in revoked:
            audit_record(
                actor=user, action=AuditAction.API_TOKEN_REVOKED, data={"key_start": start, "reason": reason}
            )
    return len(revoked)


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing tokens older than API_TOKEN_EXPIRY_DAYS (401)."""

    def authenticate_credentials(self, key: str) -> tuple[User, Token]:
        user, token = super().authenticate_credentials(key)
        if token_expires_at(token) <= timezone.now():
            raise exceptions.AuthenticationFailed(
                _("This token has expired. Sign in to the portal and create a new one.")
            )
        return user, token
