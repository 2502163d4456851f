"""``{% upload_case_panel %}``: the uploads card of the case page (templates/uploads/case_panel.html)."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django import template
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.capabilities import can_invite_contacts
from cases.models import Case
from uploads import housekeeping, selectors
from uploads.models import Upload

register = template.Library()

PANEL_ROWS = 10


class UploadsPanel(TypedDict):
    """What ``uploads/_panel.html`` shows: the case's newest uploads and, while it is open, invitations."""

    case: Case
    uploads: QuerySet[Upload]
    total: int
    retention_date: datetime | None
    can_invite: bool
    request: HttpRequest | None


@register.inclusion_tag("uploads/_panel.html", takes_context=True)
def upload_case_panel(context: template.Context) -> UploadsPanel:
    case: Case = context["case"]
    uploads = selectors.upload_list_for_case(case=case)
    return UploadsPanel(
        case=case,
        uploads=uploads[:PANEL_ROWS],
        total=uploads.count(),
        retention_date=housekeeping.upload_retention_date(case=case),
        can_invite=case.is_open and can_invite_contacts(context["user"]),
        request=context.get("request"),
    )
