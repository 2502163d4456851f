"""Clocks and review panels for the case page and the case list (included by the cases templates)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import cast

from django import template
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.capabilities import can_review, can_see_internal, can_work_cases
from cases.models import Case, State
from oversight import selectors
from oversight.clocks import Status
from oversight.forms import ReviewDecisionForm, SummaryRewriteForm
from oversight.models import CaseClock, Clock, SummaryReview

register = template.Library()


@register.filter
def business_duration(minutes: int | None) -> str:
    """Business minutes as hours and minutes ("3 h 20 min")."""
    if minutes is None:
        return "—"
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(int(minutes)), 60)
    if hours and rest:
        return _("%(sign)s%(h)d h %(m)d min") % {"sign": sign, "h": hours, "m": rest}
    if hours:
        return _("%(sign)s%(h)d h") % {"sign": sign, "h": hours}
    return _("%(sign)s%(m)d min") % {"sign": sign, "m": rest}


@register.filter
def wall_duration(value: timedelta | None) -> str:
    """A wall-clock duration in days and hours, for the reports."""
    if value is None:
        return "—"
    hours = value.total_seconds() / 3600
    if hours >= 48:
        return _("%.1f days") % (hours / 24)
    return _("%.1f h") % hours


@register.inclusion_tag("oversight/_clocks.html", takes_context=True)
def case_clocks_panel(context: template.Context) -> dict[str, object]:
    case: Case = context["case"]
    user = context["user"]
    if not can_see_internal(user):
        return {"clocks": None}
    clocks = selectors.case_clocks(cases=[case]).get(case.pk, [])
    return {"clocks": clocks, "labels": dict(Clock.choices), "now": timezone.now()}


@register.inclusion_tag("oversight/_review.html", takes_context=True)
def case_review_panel(context: template.Context) -> dict[str, object]:
    case: Case = context["case"]
    user = context["user"]
    if not can_see_internal(user) or case.state != State.CLOSED:
        return {"show": False}
    summary = selectors.summary_latest(case=case)
    if summary is None:
        return {"show": False}
    review: SummaryReview | None = getattr(summary, "review", None)
    history = list(selectors.summary_history(case=case)[1:])
    returned = review is not None and review.decision == SummaryReview.Decision.RETURNED
    can_rewrite = returned and can_work_cases(user)
    return {
        "show": True,
        "case": case,
        "summary": summary,
        "review": review,
        "history": history,
        "can_decide": review is None and can_review(user),
        "decision_form": ReviewDecisionForm(),
        "can_rewrite": can_rewrite,
        "rewrite_form": SummaryRewriteForm(
            initial={
                "problem_description": summary.problem_description,
                "analysis": summary.analysis,
                "resolution": summary.resolution,
                "resolution_type": summary.resolution_type,
            }
        )
        if can_rewrite
        else None,
        "csrf_token": context.get("csrf_token"),
        "request": context.get("request"),
    }


@register.simple_tag
def sla_snapshots(cases: Iterable[Case]) -> Mapping[int, list[CaseClock]]:
    """The last sweep's clocks of the cases on a page: one query for the whole page, made only when a row
    is rendered (the case list takes its rows from the cache when it can)."""
    return cast(
        Mapping[int, list[CaseClock]],
        SimpleLazyObject(lambda: selectors.case_clock_snapshots(case_ids=[case.pk for case in cases])),
    )


def _badge(row: CaseClock, now: datetime) -> tuple[int, str, str]:
    label = Clock(row.clock).label
    if row.stopped_at is not None and not row.breached:
        return (9, "met", "")
    if row.breached or (row.due_at is not None and row.due_at <= now):
        return (0, "breached", _("%(clock)s breached") % {"clock": label})
    if row.due_at is None:
        return (5, "paused", _("%(clock)s paused") % {"clock": label})
    hours = (row.due_at - now).total_seconds() / 3600
    warning = row.at_risk
    left = (
        ngettext("%(n)d h left", "%(n)d h left", int(hours)) % {"n": int(hours)}
        if hours >= 1
        else _("%(n)d min left") % {"n": int(hours * 60)}
    )
    return (1 if warning else 3, "warning" if warning else "running", f"{label}: {left}")


@register.simple_tag
def sla_badge(snapshots: Mapping[int, list[CaseClock]], case: Case) -> SafeString | str:
    """The most urgent clock of a case as a badge; nothing when every clock is met or none is known."""
    rows = snapshots.get(case.pk, [])
    if not rows:
        return ""
    now = timezone.now()
    rank, status, text = min(_badge(row, now) for row in rows)
    if status == "met":
        return format_html('<span class="sla sla-met">{}</span>', _("Met"))
    return format_html('<span class="sla sla-{}">{}</span>', status, text)


@register.simple_tag
def clock_status_label(status: str) -> str:
    labels: dict[str, str] = {
        Status.RUNNING: _("Running"),
        Status.WARNING: _("At risk"),
        Status.BREACHED: _("Breached"),
        Status.PAUSED: _("Paused"),
        Status.MET: _("Met"),
    }
    return labels.get(status, status)
