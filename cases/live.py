"""The case's live version: raised by every write that changes what an open case page shows, which the
page polls (``cases:version``); the same write queues the case's search documents for rebuilding."""

from __future__ import annotations

from django.db.models import F

from cases.models import Case
from cases.search_index import case_search_mark


def case_touch(*, case_id: int) -> None:
    """Raise the case's live version, so open case pages fetch what changed (one UPDATE, no read), and
    queue the case's search documents for rebuilding (one upsert)."""
    Case.objects.filter(pk=case_id).update(live_version=F("live_version") + 1)
    case_search_mark(case_id=case_id)
