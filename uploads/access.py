"""Who may act on an upload's case: the case visible to them, and whether they are support staff."""

from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.models import User
from cases.models import Case
from cases.selectors import case_visible_to
from uploads.errors import UploadRefused


def is_staff(actor: User) -> bool:
    return actor.is_superuser or actor.is_support_staff


def require_visible(actor: User, case: Case) -> None:
    if not case_visible_to(user=actor, case_id=case.pk):
        raise UploadRefused(_("You cannot act on this case."))
