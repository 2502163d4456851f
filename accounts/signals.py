from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver
from django_otp.models import Device

from accounts.middleware import NO_DEVICE_SESSION_KEY, USER_LANGUAGE_SESSION_KEY
from accounts.models import User
from accounts.throttling import client_address
from accounts.tokens import token_revoke
from accounts.two_factor import second_factor_stamp_raise, two_factor_device
from cases.audit import AuditAction, audit_record


def _address(request: Any) -> str:
    return client_address(request) if request is not None and hasattr(request, "META") else ""


@receiver(user_logged_in)
def remember_user_language(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """The user's saved language wins over the browser's from the moment they sign in."""
    if user.language and request is not None and hasattr(request, "session"):
        request.session[USER_LANGUAGE_SESSION_KEY] = user.language


@receiver(user_logged_in)
def remember_no_authenticator(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    """Staff without an authenticator: the session says so from the sign-in, so no request after it
    looks the device up (accounts.middleware.TwoFactorMiddleware)."""
    staff = user.is_support_staff or user.is_superuser
    if staff and request is not None and hasattr(request, "session") and two_factor_device(user) is None:
        request.session[NO_DEVICE_SESSION_KEY] = True


@receiver(user_logged_in)
def audit_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action=AuditAction.LOGIN, data={"address": _address(request)})


@receiver(user_logged_out)
def audit_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action=AuditAction.LOGOUT, data={"address": _address(request)})


@receiver(user_login_failed)
def audit_login_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    """Every failed sign-in is in the audit trail, with the name tried (never the password)."""
    audit_record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        data={"username": str(credentials.get("username", ""))[:150], "address": _address(request)},
    )


@receiver(pre_save, sender=User, dispatch_uid="accounts_revoke_tokens")
def revoke_tokens_on_password_change_or_deactivation(
    sender: type[User], instance: User, update_fields: Any = None, **kwargs: Any
) -> None:
    """Every way a password changes or an account is switched off (password page, reset, admin, a
    script) ends in a save of the user: its API tokens end there too."""
    if instance.pk is None or (
        update_fields is not None and not {"password", "is_active"} & set(update_fields)
    ):
        return  # a new user, or a save of other fields only (the last_login of every sign-in)
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    # A new password goes through set_password, which keeps the raw one until the save ends; a hash
    # changed without it is Django upgrading the hash of the same password at sign-in (keep the tokens),
    # unless the password was made unusable.
    if before["password"] != instance.password and (
        getattr(instance, "_password", None) is not None or not instance.has_usable_password()
    ):
        token_revoke(user=instance, reason="password changed")
    elif before["is_active"] and not instance.is_active:
        token_revoke(user=instance, reason="account deactivated")


def stamp_before_device_save(sender: Any, instance: Device, **kwargs: Any) -> None:
    """A device given to another user: its former owner's sessions must look again too."""
    if instance.pk is not None:
        before = sender.objects.filter(pk=instance.pk).values_list("user_id", flat=True).first()
        if before is not None and before != instance.user_id:
            second_factor_stamp_raise(user_ids={before})


def stamp_after_device_change(sender: Any, instance: Device, **kwargs: Any) -> None:
    """A device saved (confirmed, used) or deleted (replaced, reset, its user deleted): every session of
    its owner looks it up in the database at its next request."""
    second_factor_stamp_raise(user_ids={instance.user_id})


for _model in apps.get_models():
    if issubclass(_model, Device):
        uid = f"second-factor-stamp-{_model._meta.label}"
        pre_save.connect(stamp_before_device_save, sender=_model, dispatch_uid=uid)
        post_save.connect(stamp_after_device_change, sender=_model, dispatch_uid=uid)
        post_delete.connect(stamp_after_device_change, sender=_model, dispatch_uid=uid)
