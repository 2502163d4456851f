"""Two-factor sign-in for staff with time-based one-time codes (django-otp's TOTP devices).

A code is valid for one 30-second step only (tolerance 0) and never twice: django-otp keeps the last
accepted step and refuses any code at or before it, so a replayed code fails.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, NotAllowed

DEVICE_NAME = "authenticator"


def two_factor_required(user: User) -> bool:
    """Whether this user must use a second factor (roles listed in TWO_FACTOR_REQUIRED_ROLES)."""
    roles = set(settings.TWO_FACTOR_REQUIRED_ROLES)
    return user.role in roles or ("admin" in roles and user.is_superuser)


def two_factor_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def two_factor_enrolment_start(*, user: User) -> TOTPDevice:
    """An unconfirmed device with a fresh secret; it counts once a first code confirms it."""
    if not user.is_support_staff and not user.is_superuser:
        raise NotAllowed(_("Two-factor sign-in is for support staff."))
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False, tolerance=0, step=30)


def two_factor_enrolment_confirm(*, request: object, user: User, code: str) -> TOTPDevice:
    """Confirm the pending device with a code from the user's app; the session becomes verified."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        raise InvalidInput(_("Start the set-up again: no pending authenticator."))
    if not device.verify_token(code.strip()):
        raise InvalidInput(
            _("That code is not right. Check the time on your phone and try the current code.")
        )
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
    otp_login(request, device)
    return device


def two_factor_check(*, user: User, code: str) -> TOTPDevice:
    """Check a code against the user's authenticator; a wrong, expired or replayed code raises."""
    device = two_factor_device(user)
    if device is None:
        raise InvalidInput(_("Set up an authenticator first."))
    if not device.verify_token(code.strip()):
        audit_record(actor=user, action=AuditAction.TWO_FACTOR_FAILED)
        raise InvalidInput(_("That code is not right, has expired, or was already used."))
    return device


def two_factor_verify(*, request: object, user: User, code: str) -> None:
    """The second step of a session sign-in: mark the session verified."""
    otp_login(request, two_factor_check(user=user, code=code))
