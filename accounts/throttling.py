"""Sign-in throttling that nobody can turn on everyone (issue 14, item 1).

- Failures are counted per **pair** (user name, address) by django-axes: five wrong passwords lock that
  pair for AXES_COOLOFF_TIME, so guessing at a name never locks its owner out from their own address,
  and a name that does not exist locks nobody.
- An address that fails across many user names (spraying) is **slowed**, never locked: once it has
  failed for SIGNIN_ADDRESS_SLOW_AFTER names within the cool-off, it may try once per
  SIGNIN_ADDRESS_DELAY seconds. Colleagues behind the same NAT still sign in, a few seconds later.
- The address is the client's: REMOTE_ADDR, or, behind TRUSTED_PROXY_COUNT proxies (nginx), the entry of
  X-Forwarded-For that the outermost trusted proxy wrote. With no proxy configured the header is ignored:
  anyone can write it.
- An attempt during a lockout is refused without being counted, so it never extends the lockout
  (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from axes.models import AccessAttempt
from django.conf import settings
from django.db import transaction
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import DomainError, NotAllowed


class SignInThrottled(DomainError):
    """Too many attempts: wait ``retry_after`` seconds. Pages and API answer 429 with the message."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies that each append the
    address they received from (nginx's ``$proxy_add_x_forwarded_for``), the N-th X-Forwarded-For entry
    from the right. Entries further left were written by the client and are never trusted."""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    if len(forwarded) < proxies:
        return remote  # the request did not come through every proxy: what reached us is the client
    return _valid(forwarded[-proxies]) or remote


def lockout_message() -> str:
    minutes = math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    return _(
        "Too many failed sign-ins for this user name from your address. Please try again in %(minutes)d "
        "minutes, or ask your support contact to reset your password."
    ) % {"minutes": minutes}


def _window_start() -> datetime:
    return timezone.now() - settings.AXES_COOLOFF_TIME


def signin_address_check(*, address: str) -> None:
    """Raise SignInThrottled when ``address`` has failed for many user names and tried too recently.

    Read from django-axes' own rows (one per user name and address), so it holds across processes."""
    recent = AccessAttempt.objects.filter(ip_address=address, attempt_time__gte=_window_start())
    summary = recent.aggregate(last=Max("attempt_time"))
    if summary["last"] is None:
        return
    names = recent.values("username").distinct().count()
    if names < settings.SIGNIN_ADDRESS_SLOW_AFTER:
        return
    wait = settings.SIGNIN_ADDRESS_DELAY - (timezone.now() - summary["last"]).total_seconds()
    if wait > 0:
        raise SignInThrottled(
            _(
                "Many sign-ins failed from your network for different user names. Wait %(seconds)d seconds "
                "before trying again."
            )
            % {"seconds": math.ceil(wait)},
            retry_after=math.ceil(wait),
        )


@dataclass(frozen=True)
class LockoutLifted:
    username: str
    address: str
    failures: int


def signin_lockout_lift(*, actor: User, attempts: QuerySet[AccessAttempt]) -> list[LockoutLifted]:
    """Staff lift lockouts (the admin's action): the pairs' failure rows are deleted, one audit entry
    each with who lifted it."""
    if not actor.is_active or not (actor.is_superuser or actor.is_staff):
        raise NotAllowed(_("Only administrators can lift a sign-in lockout."))
    lifted: list[LockoutLifted] = []
    with transaction.atomic():
        for attempt in attempts.select_for_update():
            lifted.append(
                LockoutLifted(
                    username=attempt.username or "",
                    address=attempt.ip_address or "",
                    failures=attempt.failures_since_start,
                )
            )
            audit_record(
                actor=actor,
                action=AuditAction.LOGIN_LOCKOUT_LIFTED,
                data={
                    "username": (attempt.username or "")[:150],
                    "address": attempt.ip_address or "",
                    "failures": attempt.failures_since_start,
                },
            )
            attempt.delete()
    return lifted


def lockout_remaining(*, username: str, address: str) -> timedelta | None:
    """How long the pair stays locked, or None when it is not."""
    attempt = (
        AccessAttempt.objects.filter(username=username, ip_address=address, attempt_time__gte=_window_start())
        .order_by("-attempt_time")
        .first()
    )
    if attempt is None or attempt.failures_since_start < settings.AXES_FAILURE_LIMIT:
        return None
    remaining: timedelta = attempt.attempt_time + settings.AXES_COOLOFF_TIME - timezone.now()
    return remaining
