"""Two-factor sign-in for staff with time-based one-time codes (django-otp's TOTP devices).

A code is valid for one 30-second step only (tolerance 0) and never twice: django-otp keeps the last
accepted step and refuses any code at or before it, so a replayed code fails.
"""

from __future__ import annotations

from collections.abc import Callable

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, NotAllowed
from config.caching import cache_is_shared

DEVICE_NAME = "authenticator"
# How long a verified session's device is taken from the cache without asking the database. Every save
# or delete of a device forgets it at once (accounts.signals); the timeout only bounds a delete the cache
# missed (Redis unreachable at that moment, or rows deleted outside the ORM).
DEVICE_CACHE_SECONDS = 300
# What the cache keeps of a device: never its secret.
_DEVICE_CACHED_FIELDS = ("id", "user_id", "confirmed")


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


def _device_cache_key(persistent_id: str) -> str:
    return f"otp-device:{persistent_id}"


def device_cached(persistent_id: str, load: Callable[[str], Device | None]) -> Device | None:
    """The device a verified session names, from the shared cache, else from ``load`` (the database).

    Each request of a session that passed the second factor checks that its device still exists and is
    confirmed: a query per request, a third of the smallest signed-in request's work. The cache keeps
    the device's model, id, owner and confirmation only; the instance returned loads any other field
    (the secret) from the database when read. A device that does not exist is not cached, and a cache of
    one process only (which another process's delete could not reach) is not used."""
    if not cache_is_shared():
        return load(persistent_id)
    key = _device_cache_key(persistent_id)
    cached = cache.get(key)
    if cached is not None:
        label, values = cached
        return apps.get_model(label).from_db(DEFAULT_DB_ALIAS, _DEVICE_CACHED_FIELDS, values)
    device = load(persistent_id)
    if device is not None:
        values = tuple(getattr(device, field) for field in _DEVICE_CACHED_FIELDS)
        cache.set(key, (device._meta.label_lower, values), DEVICE_CACHE_SECONDS)
    return device


def device_forget(device: Device) -> None:
    """Called on every save and delete of a device: the next request reads it from the database."""
    cache.delete(_device_cache_key(device.persistent_id))
