"""Forms of the accounts app."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import User


class ProfileForm(forms.ModelForm):
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
