"""Two-factor sign-in for staff with time-based one-time codes (django-otp's TOTP devices).

A code is valid for one 30-second step only (tolerance 0) and never twice: django-otp keeps the last
accepted step and refuses any code at or before it, so a replayed code fails.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, NotAllowed

DEVICE_NAME = "authenticator"
# A verified session remembers the user's second-factor stamp at which its device was last found in the
# database, and when: while the stamp is unchanged its requests need no device look-up. The age bounds a
# device changed outside the ORM (no signal, so no new stamp).
SESSION_STAMP_KEY = "two_factor_stamp"
SESSION_STAMP_SECONDS = 300


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


def session_device(
    *, session: Any, user: User, persistent_id: str, load: Callable[[str], Device | None]
) -> Device | None:
    """The device this verified session names: from the database (``load``) unless the session found it
    there at the user's current second-factor stamp, less than SESSION_STAMP_SECONDS ago.

    Every signed-in request of a manager used to read the device (a query, or a cache read with its
    round trip): a fifth of the smallest request. The user's row, read by every request anyway, carries
    the stamp that every save or delete of any of their devices raises (accounts.signals), so a session
    learns at its next request that its device changed and asks the database again. The stand-in returned
    otherwise has the device's model, id, owner and confirmation; any other field (the secret) is read
    from the database if something asks for it."""
    remembered = session.get(SESSION_STAMP_KEY)
    now = int(time.time())
    if (
        remembered is not None
        and remembered[0] == user.second_factor_stamp
        and now - remembered[1] < SESSION_STAMP_SECONDS
    ):
        label, _, device_id = persistent_id.rpartition("/")
        model = apps.get_model(label)
        return model.from_db(
            DEFAULT_DB_ALIAS, ["id", "user_id", "confirmed"], (int(device_id), user.pk, True)
        )
    # The stamp is the one read before the device: a device changed after this look-up raises it again.
    device = load(persistent_id)
    if device is not None and device.user_id == user.pk and device.confirmed:
        session[SESSION_STAMP_KEY] = (user.second_factor_stamp, now)
    elif remembered is not None:
        del session[SESSION_STAMP_KEY]
    return device


def second_factor_stamp_raise(*, user_ids: set[int]) -> None:
    """Called on every save and delete of a device (for its owner before and after): each session
    verified with one of these users' devices asks the database for it at its next request."""
    User.objects.filter(pk__in=user_ids).update(second_factor_stamp=F("second_factor_stamp") + 1)
