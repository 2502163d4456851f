"""The sign-in form: Django's, plus the organisations that sign in with single sign-on only."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts import sso
from accounts.models import User


class LoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user: User) -> None:  # type: ignore[override]
        """After the password was right (so nobody learns a policy without it): refused when the
        person's organisation, or staff, sign in with single sign-on only."""
        super().confirm_login_allowed(user)
        if not sso.password_login_allowed(user):
            raise forms.ValidationError(sso.password_login_refusal(), code="sso_only")
