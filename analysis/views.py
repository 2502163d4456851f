"""The analysis panel of the case page, its live-status endpoint and the staff re-run action.

Thin (STYLE.md rule 1): authorise through cases.selectors, read through analysis.selectors, write through
analysis.services. The panel is also rendered by the ``analysis_case_panel`` tag inside the case page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.capabilities import can_rerun_analysis, can_see_internal
from analysis import selectors, services
from analysis.models import AnalysisJob, Crash, Finding
from analysis.rules.knowledge import bugcheck_info, parameter_meanings
from analysis.templatetags.analysis_panel import duration
from cases.errors import DomainError
from cases.models import Case
from cases.selectors import case_get_for_user
from uploads.models import Upload


def _label(state: str) -> str:
    return str(dict(AnalysisJob.State.choices).get(state) or _("Not analysed"))


def status_payload(statuses: list[selectors.UploadStatus]) -> dict[str, Any]:
    """The live status the page polls: small, and the same shape for customers and staff."""
    now = timezone.now()
    uploads = [
        {
            "id": str(s.upload.pk),
            "filename": s.upload.filename,
            "state": s.state,
            "label": _label(s.state),
            "elapsed": s.elapsed_seconds(now),
            "elapsed_text": duration(s.elapsed(now)),
            "attempts": s.job.attempts if s.job else 0,
            "error": s.job.error if s.job and s.job.state == AnalysisJob.State.FAILED else "",
        }
        for s in statuses
    ]
    return {
        "pending": any(s.pending for s in statuses),
        # Changes whenever a job changes state: the page reloads the panel then, not on every poll.
        "version": "|".join(f"{u['id']}:{u['state']}" for u in uploads),
        "uploads": uploads,
    }


def _zh(request: HttpRequest) -> bool:
    return (getattr(request, "LANGUAGE_CODE", "") or translation.get_language() or "").startswith("zh")


def _finding_view(finding: Finding, zh: bool, crash_numbers: dict[int, int]) -> dict[str, Any]:
    return {
        "severity": finding.severity,
        "severity_label": finding.get_severity_display(),
        "code": finding.code,
        "title": (zh and finding.title_zh) or finding.title,
        "detail": (zh and finding.detail_zh) or finding.detail,
        "recommendation": (zh and finding.recommendation_zh) or finding.recommendation,
        "confidence": finding.confidence,
        "upload": finding.upload,
        "evidence": sorted(crash_numbers[c.pk] for c in finding.crashes.all() if c.pk in crash_numbers),
    }


def _crash_view(number: int, crash: Crash, seen: selectors.SeenElsewhere, zh: bool = False) -> dict[str, Any]:
    info = bugcheck_info(crash.code) if crash.code and not crash.exception_code else None
    values = tuple(crash.parameters or ())
    meanings = parameter_meanings(crash.code, values, "zh" if zh else "en") if info else []
    parameters = [
        {"index": i + 1, "value": value, "meaning": meanings[i] if i < len(meanings) else ""}
        for i, value in enumerate(crash.parameters or [])
    ]
    return {
        "number": number,
        "crash": crash,
        "time_sort": crash.crash_time.isoformat() if crash.crash_time else "",
        "parameters": parameters,
        "summary": info.summary if info else "",
        "modules": sorted(
            crash.modules or [], key=lambda m: (m.get("origin") != "third_party", m.get("name", ""))
        ),
        "drivers": [(name, *seen.drivers.get(name.lower(), (0, []))) for name in crash.third_party_drivers],
        "signature_seen": seen.signatures.get(crash.signature_module, (0, [])),
    }


def panel_context(*, request: HttpRequest, case: Case) -> dict[str, Any]:
    """Everything the panel template needs, in a fixed number of queries."""
    user = request.user
    statuses = selectors.upload_statuses_for_case(case=case)
    payload = status_payload(statuses)
    context: dict[str, Any] = {
        "case": case,
        "statuses": list(zip(statuses, payload["uploads"], strict=True)),
        "pending": payload["pending"],
        "version": payload["version"],
        "show_findings": can_see_internal(user),
        "can_rerun": can_rerun_analysis(user),
        "status_url": reverse("analysis:status", args=[case.number]),
        "panel_url": reverse("analysis:panel", args=[case.number]),
    }
    if context["show_findings"]:
        crashes = list(selectors.crashes_for_case(case=case))
        seen = selectors.seen_elsewhere(user=user, case=case, crashes=crashes)
        numbers = {crash.pk: i + 1 for i, crash in enumerate(crashes)}
        zh = _zh(request)
        findings = [_finding_view(f, zh, numbers) for f in selectors.findings_for_case(case=case)]
        context.update(
            crashes=[_crash_view(numbers[c.pk], c, seen, zh) for c in crashes],
            case_findings=[f for f in findings if f["upload"] is None],
            upload_findings=[f for f in findings if f["upload"] is not None],
        )
    return context


@never_cache
@login_required
@require_GET
def analysis_status(request: HttpRequest, number: str) -> JsonResponse:
    case = case_get_for_user(user=request.user, number=number)
    return JsonResponse(status_payload(selectors.upload_statuses_for_case(case=case)))


@never_cache
@login_required
@require_GET
def analysis_panel(request: HttpRequest, number: str) -> HttpResponse:
    """The panel alone (an HTML fragment) for the page to swap in when a job finishes."""
    case = case_get_for_user(user=request.user, number=number)
    return render(request, "analysis/panel.html", panel_context(request=request, case=case))


@login_required
@require_POST
def analysis_rerun(request: HttpRequest, number: str, upload_id: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    if not can_rerun_analysis(request.user):
        raise PermissionDenied
    upload = get_object_or_404(Upload, pk=upload_id, case=case)
    try:
        services.job_rerun(actor=request.user, upload=upload)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Analysis of %(file)s queued again.") % {"file": upload.filename})
    return redirect(f"{reverse('cases:detail', args=[case.number])}#analysis")
