"""Writes of the accounts app (STYLE.md rule 2)."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from cases.errors import InvalidInput


def profile_save(*, user: User, first_name: str, last_name: str, language: str) -> User:
    """A person's own name and saved language, which documents and e-mails to them use."""
    if language and language not in dict(settings.LANGUAGES):
        raise InvalidInput(_("Unknown language."))
    with transaction.atomic():
        user.first_name = first_name.strip()[:150]
        user.last_name = last_name.strip()[:150]
        user.language = language
        user.save(update_fields=["first_name", "last_name", "language"])
    return user
