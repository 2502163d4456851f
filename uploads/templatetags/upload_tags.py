"""``{% upload_case_panel %}``: the uploads card of the case page (templates/uploads/case_panel.html)."""

from __future__ import annotations

from typing import Any

from django import template

from accounts.capabilities import can_invite_contacts
from uploads import housekeeping, selectors

register = template.Library()

PANEL_ROWS = 10


@register.inclusion_tag("uploads/_panel.html", takes_context=True)
def upload_case_panel(context: template.Context) -> dict[str, Any]:
    case = context["case"]
    user = context["user"]
    uploads = selectors.upload_list_for_case(case=case)
    return {
        "case": case,
        "uploads": uploads[:PANEL_ROWS],
        "total": uploads.count(),
        "retention_date": housekeeping.upload_retention_date(case=case),
        "can_invite": case.is_open and can_invite_contacts(user),
        "request": context.get("request"),
    }
