"""Forms of the accounts app: the profile, and the sign-in form that knows who signs in with single
sign-on only."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts import sso
from accounts.models import User


class LoginForm(AuthenticationForm):
    def confirm_login_allowed(self, user: User) -> None:
        """After the password was right (so nobody learns a policy without it): refused when the
        person's organisation, or staff, sign in with single sign-on only."""
        super().confirm_login_allowed(user)
        if not sso.password_login_allowed(user):
            raise forms.ValidationError(sso.password_login_refusal(), code="sso_only")


class ProfileForm(forms.ModelForm[User]):
    language = forms.ChoiceField(
        choices=[("", _("The browser's"))] + list(settings.LANGUAGES),
        required=False,
        label=_("Language of the portal, e-mails and documents"),
        help_text=_(
            "Documents your engineer drafts for you and every e-mail the portal sends you use it. The "
            "switch in the top bar changes the pages of one session only."
        ),
    )

    class Meta:
        model = User
        fields = ["first_name", "last_name", "language"]
