"""The analysis panel of the case page, its live-status endpoint and the staff re-run action.

Thin (STYLE.md rule 1): authorise through cases.selectors, read through analysis.selectors, write through
analysis.services. The case page's view passes the same panel (``selectors.analysis_panel_for``) to its template.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.capabilities import can_rerun_analysis
from accounts.requests import AuthenticatedRequest
from analysis import queueing, selectors
from cases.errors import DomainError
from cases.selectors import case_get_for_user
from uploads.models import Upload


@never_cache
@login_required
@require_GET
def analysis_status(request: AuthenticatedRequest, number: str) -> JsonResponse:
    case = case_get_for_user(user=request.user, number=number)
    return JsonResponse(selectors.status_payload(selectors.upload_statuses_for_case(case=case)))


@never_cache
@login_required
@require_GET
def analysis_panel(request: AuthenticatedRequest, number: str) -> HttpResponse:
    """The panel alone (an HTML fragment) for the page to swap in when a job finishes."""
    case = case_get_for_user(user=request.user, number=number)
    panel = selectors.analysis_panel_for(user=request.user, case=case)
    return render(request, "analysis/panel.html", {"case": case, "panel": panel})


@login_required
@require_POST
def analysis_rerun(request: AuthenticatedRequest, number: str, upload_id: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    if not can_rerun_analysis(request.user):
        raise PermissionDenied
    upload = get_object_or_404(Upload, pk=upload_id, case=case)
    try:
        queueing.job_rerun(actor=request.user, upload=upload)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Analysis of %(file)s queued again.") % {"file": upload.filename})
    return redirect(f"{reverse('cases:detail', args=[case.number])}#analysis")
