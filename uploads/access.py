"""Who may act on an upload's case: the case visible to them, and whether they are support staff."""

from __future__ import annotations

from django.utils.translation import gettext as _

from accounts.capabilities import can_act_for_vendor
from accounts.models import User
from cases.models import Case
from cases.selectors import case_visible_to
from uploads.errors import UploadRefused


def is_staff(actor: User) -> bool:
    """Whether the actor acts for the support team on uploads (``accounts.capabilities``)."""
    return can_act_for_vendor(actor)


def require_visible(actor: User, case: Case) -> None:
    if not case_visible_to(user=actor, case_id=case.pk):
        raise UploadRefused(_("You cannot act on this case."))
