"""Reads of uploads, always through the cases' authorisation layer (cases.selectors)."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from accounts.models import User
from analysis.models import AnalysisJob
from cases.models import Case
from cases.selectors import case_visible_queryset
from uploads.models import Upload


def upload_visible_queryset(user: User) -> QuerySet[Upload]:
    """Uploads of every case the user may see, and no other."""
    return Upload.objects.filter(case__in=case_visible_queryset(user))


def upload_get_for_user(*, user: User, upload_id: uuid.UUID | str, case_number: str | None = None) -> Upload:
    """The upload if the user may see its case (and it belongs to ``case_number`` when given); 404
    otherwise, never a hint that it exists."""
    uploads = upload_visible_queryset(user).select_related(
        "case__organisation", "uploaded_by", "parent", "duplicate_of", "withdrawn_by"
    )
    if case_number is not None:
        uploads = uploads.filter(case__number=case_number)
    try:
        return uploads.get(pk=upload_id)
    except (Upload.DoesNotExist, ValueError):
        raise Http404("No such upload.") from None


def upload_list_for_case(*, case: Case) -> QuerySet[Upload]:
    """The case's uploads, newest first, with what a list row shows joined in (the original of a copy,
    who uploaded it, who withdrew a file)."""
    return case.uploads.select_related(
        "uploaded_by", "parent", "duplicate_of__uploaded_by", "withdrawn_by"
    ).order_by("-created_at", "-pk")


def upload_list_for_page(*, case: Case) -> QuerySet[Upload]:
    """The upload page's list: as above, with whether each file's analysis is queued or running (such a
    file cannot be withdrawn yet), in the same query."""
    running = AnalysisJob.objects.filter(upload=OuterRef("pk"), state__in=AnalysisJob.ACTIVE_STATES)
    return upload_list_for_case(case=case).annotate(analysis_pending=Exists(running))
