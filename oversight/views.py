"""Managers' pages: summary review, reports, audit trail, service-level settings (STYLE.md rule 1)."""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.capabilities import (
    can_manage_service_levels,
    can_review,
    can_see_audit_trail,
    can_see_internal,
    can_see_reports,
)
from accounts.requests import AuthenticatedRequest
from cases.audit import AuditAction
from cases.errors import DomainError
from cases.models import AuditEvent, CaseSummary, Severity
from cases.selectors import case_get_for_user
from communications.notifications import event_text
from communications.templatetags.communications import state_label
from config import caching
from oversight import charts, reports, selectors, services
from oversight.documents import summary_pdf
from oversight.exports import csv_response
from oversight.forms import (
    AuditFilterForm,
    BusinessCalendarForm,
    ReportFilterForm,
    ReviewDecisionForm,
    ReviewFilterForm,
    ServiceTargetForm,
    SummaryRewriteForm,
)
from oversight.models import BusinessCalendar, ServiceTarget

PAGE_SIZE = 25
EXPORT_LIMIT = 100_000


def _require(allowed: bool) -> None:
    """Refuse the page unless the signed-in user has its capability (``accounts.capabilities``)."""
    if not allowed:
        raise PermissionDenied


def _query_without_page(request: HttpRequest) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _local(value: datetime | None) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# -- review -----------------------------------------------------------------------------------------------


def _review_summaries(request: HttpRequest) -> tuple[ReviewFilterForm, QuerySet[CaseSummary]]:
    form = ReviewFilterForm(request.GET)
    form.is_valid()
    summaries = selectors.review_queue(
        engineer=form.text("engineer"),
        organisation=form.text("organisation"),
        resolution_type=form.text("resolution_type"),
        review_state=form.text("review_state"),
        since=form.day("since"),
        until=form.day("until"),
    )
    return form, summaries


@login_required
def review_queue(request: AuthenticatedRequest) -> HttpResponse:
    """Closed cases' latest summaries, filterable, each with its checklist and decision."""
    _require(can_review(request.user))
    form, summaries = _review_summaries(request)
    if form.errors:
        messages.warning(request, _("Some filters were ignored: check the dates."))
    page = Paginator(summaries, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "oversight/review.html",
        {
            "page": page,
            "form": form,
            "query": _query_without_page(request),
            "decision_form": ReviewDecisionForm(),
        },
    )


@login_required
def review_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    """The filtered review queue as CSV."""
    _require(can_review(request.user))
    _form, summaries = _review_summaries(request)
    services.export_record(
        actor=request.user, action=AuditAction.EXPORT_REVIEW_CSV, filters=request.GET.dict()
    )
    rows = (
        [
            s.case.number,
            s.case.title,
            s.case.organisation.name,
            str(s.case.owner or ""),
            s.case.owner.username if s.case.owner else "",
            s.get_resolution_type_display(),
            s.version,
            _local(s.case.closed_at),
            s.review.get_decision_display() if hasattr(s, "review") else _("Waiting for review"),
            str(s.review.reviewer or "") if hasattr(s, "review") else "",
            s.review.reviewer.username if hasattr(s, "review") and s.review.reviewer else "",
            s.review.comment if hasattr(s, "review") else "",
        ]
        for s in summaries[:EXPORT_LIMIT].iterator(chunk_size=500)
    )
    header = [
        _("Case number"),
        _("Title"),
        _("Organisation"),
        _("Engineer"),
        _("Engineer's user name"),
        _("Resolution type"),
        _("Summary version"),
        _("Closed"),
        _("Review state"),
        _("Reviewer"),
        _("Reviewer's user name"),
        _("Comment"),
    ]
    return csv_response(f"review-{timezone.localdate():%Y%m%d}.csv", header, rows)


@login_required
@require_POST
def review_decide(request: AuthenticatedRequest, number: str) -> HttpResponse:
    _require(can_review(request.user))
    case = case_get_for_user(user=request.user, number=number)
    summary = selectors.summary_latest(case=case)
    if summary is None:
        raise Http404("No summary.")
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or to return the summary."))
    else:
        approve = form.cleaned_data["decision"] == "approve"
        try:
            services.summary_review(
                actor=request.user,
                summary=summary,
                approve=approve,
                comment=form.cleaned_data["comment"],
                checklist=form.checklist(),
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(
                request,
                _("Summary of %s approved.") % number
                if approve
                else _("Summary of %s returned to the engineer.") % number,
            )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "oversight:review"
    return redirect(target)


@login_required
def summary_pdf_download(request: AuthenticatedRequest, number: str) -> HttpResponse:
    """The latest summary of a case as PDF, for support staff."""
    case = case_get_for_user(user=request.user, number=number)
    _require(can_see_internal(request.user))
    summary = selectors.summary_latest(case=case)
    if summary is None:
        raise Http404("No summary.")
    services.export_record(
        actor=request.user,
        action=AuditAction.EXPORT_SUMMARY_PDF,
        case=case,
        filters={"version": str(summary.version)},
    )
    response = HttpResponse(summary_pdf(summary=summary), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{case.number}-summary-v{summary.version}.pdf"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_POST
def summary_rewrite(request: AuthenticatedRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    form = SummaryRewriteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("A summary needs a problem description, an analysis and a resolution."))
    else:
        try:
            summary = services.summary_rewrite(actor=request.user, case=case, **form.cleaned_data)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Summary v%d saved and sent for review.") % summary.version)
    return redirect("cases:detail", number=number)


# -- reports ----------------------------------------------------------------------------------------------


# Reports are recomputed at most once a minute per period and language, and say so: a dashboard read by
# several managers at once costs one computation (13 aggregate queries over every case) a minute.
REPORT_FRESH_SECONDS = 60


def _report_body(request: HttpRequest, period: reports.Period) -> str:
    """The figures and charts of one period, rendered afresh when the minute's copy is gone."""
    key = ":".join(
        ["report-body", caching.release_digest(), str(period.since), str(period.until), period.organisation,
         translation.get_language()]
    )  # fmt: skip
    body: str | None = cache.get(key)
    if body is None:
        report = reports.report_build(period=period)
        weeks = [f"{week:%m-%d}" for week, _o, _c in report.weekly]
        context = {
            "report": report,
            "generated_at": timezone.now(),
            "fresh_seconds": REPORT_FRESH_SECONDS,
            "empty": not (report.opened_total or report.closed_total or report.backlog_total),
            "weekly_chart": charts.columns(
                weeks,
                [[o for _w, o, _c in report.weekly], [c for _w, _o, c in report.weekly]],
                title=_("Cases opened and closed per week"),
            ),
            "backlog_chart": charts.hbars(report.backlog, title=_("Backlog by state and age")),
            "sla_chart": charts.hbars(
                [(label, [kept, breached]) for label, kept, breached in report.sla],
                title=_("Service levels kept and breached"),
            ),
            "resolution_chart": charts.hbars(
                [(label, [n]) for label, n in report.resolutions], title=_("Resolution types")
            ),
            "codes_chart": charts.hbars(
                [(code, [cases]) for code, cases, _n in report.top_codes], title=_("Top bug check codes")
            ),
            "drivers_chart": charts.hbars(
                [(name, [cases]) for name, cases, _n in report.top_drivers],
                title=_("Top third-party drivers"),
            ),
        }
        body = render_to_string("oversight/_report_body.html", context, request=request)
        cache.set(key, body, REPORT_FRESH_SECONDS)
    return body


def _report_filters(request: HttpRequest, form: ReportFilterForm) -> str:
    """The filter form as these parameters show it, kept as long as the minute's figures: its widgets (a
    choice of every organisation) cost more to render than the rest of a page served from the cache."""
    key = ":".join(
        ["report-filters", caching.release_digest(), translation.get_language(), request.GET.urlencode()]
    )
    html: str | None = cache.get(key)
    if html is None:
        html = render_to_string("oversight/_report_filters.html", {"form": form}, request=request)
        cache.set(key, html, REPORT_FRESH_SECONDS)
    return html


@login_required
def report_dashboard(request: AuthenticatedRequest) -> HttpResponse:
    _require(can_see_reports(request.user))
    form = ReportFilterForm(request.GET)
    form.is_valid()
    default = reports.Period.default(organisation=form.text("organisation"))
    period = reports.Period(
        since=form.day("since") or default.since,
        until=form.day("until") or default.until,
        organisation=default.organisation,
    )
    body = mark_safe(_report_body(request, period))  # noqa: S308 - rendered by our template, escaped there
    filters = mark_safe(_report_filters(request, form))  # noqa: S308 - rendered by our template, escaped there
    return render(request, "oversight/reports.html", {"filters": filters, "period": period, "body": body})


# -- audit ------------------------------------------------------------------------------------------------


def _audit_events(request: HttpRequest) -> tuple[AuditFilterForm, QuerySet[AuditEvent]]:
    form = AuditFilterForm(request.GET)
    form.is_valid()
    events = selectors.audit_trail(
        case_number=form.text("case"),
        username=form.text("user"),
        action=form.text("action"),
        since=form.day("since"),
        until=form.day("until"),
    )
    return form, events


@login_required
def audit_trail(request: AuthenticatedRequest) -> HttpResponse:
    """The audit trail of a case or a user, filterable."""
    _require(can_see_audit_trail(request.user))
    form, events = _audit_events(request)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "oversight/audit.html",
        {
            "form": form,
            "page": page,
            "query": _query_without_page(request),
            "actions": selectors.audit_actions(),
        },
    )


@login_required
def audit_export(request: AuthenticatedRequest) -> StreamingHttpResponse:
    _require(can_see_audit_trail(request.user))
    _form, events = _audit_events(request)
    services.export_record(
        actor=request.user, action=AuditAction.EXPORT_AUDIT_CSV, filters=request.GET.dict()
    )
    rows = (
        [
            _local(e.created_at),
            e.case.number if e.case else "",
            str(e.actor or ""),
            e.actor.username if e.actor else "",
            event_text(e),
            e.action,
            state_label(e.from_state),
            state_label(e.to_state),
            _("yes") if e.customer_visible else _("no"),
            e.data,
        ]
        for e in events[:EXPORT_LIMIT].iterator(chunk_size=1000)
    )
    header = [
        _("When"),
        _("Case"),
        _("Who"),
        _("User name"),
        _("What"),
        _("Action"),
        _("From state"),
        _("To state"),
        _("Customer visible"),
        _("Details"),
    ]
    return csv_response(f"audit-{timezone.localdate():%Y%m%d}.csv", header, rows)


# -- service-level settings ---------------------------------------------------------------------------------


# Most severe first, as the case lists read.
_SEVERITY_RANK = models.Case(
    *(models.When(severity=value, then=rank) for rank, value in enumerate(Severity.values)),
    default=len(Severity.values),
)


@login_required
def service_levels(request: AuthenticatedRequest) -> HttpResponse:
    _require(can_manage_service_levels(request.user))
    return render(
        request,
        "oversight/service_levels.html",
        {
            "targets": ServiceTarget.objects.select_related("organisation").order_by(
                F("organisation__name").asc(nulls_first=True), _SEVERITY_RANK
            ),
            "calendars": BusinessCalendar.objects.select_related("organisation").prefetch_related("holidays"),
        },
    )


@login_required
def target_edit(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    _require(can_manage_service_levels(request.user))
    target = get_object_or_404(ServiceTarget, pk=pk) if pk else ServiceTarget()
    form = ServiceTargetForm(request.POST or None, instance=target)
    if request.method == "POST" and form.is_valid():
        try:
            services.service_target_save(actor=request.user, target=form.instance)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Targets saved."))
            return redirect("oversight:service_levels")
    return render(request, "oversight/edit.html", {"form": form, "title": _("Service-level targets")})


@login_required
def calendar_edit(request: AuthenticatedRequest, pk: int | None = None) -> HttpResponse:
    _require(can_manage_service_levels(request.user))
    calendar = get_object_or_404(BusinessCalendar, pk=pk) if pk else BusinessCalendar()
    form = BusinessCalendarForm(request.POST or None, instance=calendar)
    if request.method == "POST" and form.is_valid():
        try:
            services.business_calendar_save(
                actor=request.user, calendar=form.instance, holidays=form.cleaned_data["holidays"]
            )
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Calendar saved."))
            return redirect("oversight:service_levels")
    return render(request, "oversight/edit.html", {"form": form, "title": _("Business-hours calendar")})
