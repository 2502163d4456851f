"""Managers' figures, computed by the database (aggregates and ordered offsets, no Python loops)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, QuerySet

from cases.models import OPEN_STATES, Case, State


def _median_duration(cases: QuerySet[Case], start: str, end: str) -> timedelta | None:
    """The median of ``end - start`` over cases that have both, by an ordered offset in the database."""
    durations = (
        cases.filter(**{f"{end}__isnull": False})
        .annotate(duration=ExpressionWrapper(F(end) - F(start), output_field=DurationField()))
        .order_by("duration")
        .values_list("duration", flat=True)
    )
    count = durations.count()
    if count == 0:
        return None
    if count % 2:
        return durations[count // 2]
    lower, upper = durations[count // 2 - 1 : count // 2 + 1]
    return (lower + upper) / 2


def report_overview(*, cases: QuerySet[Case]) -> dict[str, object]:
    """Open cases by state and by engineer, median time to scope and to close."""
    open_cases = cases.filter(state__in=OPEN_STATES)
    by_state = dict(open_cases.values_list("state").annotate(n=Count("id")).order_by())
    state_rows = [(label, by_state.get(value, 0)) for value, label in State.choices if value in OPEN_STATES]
    by_engineer = list(
        open_cases.values("owner__username").annotate(n=Count("id")).order_by("-n", "owner__username")
    )
    return {
        "open_total": sum(by_state.values()),
        "by_state": state_rows,
        "by_state_max": max(by_state.values(), default=0),
        "by_engineer": by_engineer,
        "by_engineer_max": max((row["n"] for row in by_engineer), default=0),
        "median_to_scope": _median_duration(cases, "opened_at", "scoped_at"),
        "median_to_close": _median_duration(cases, "opened_at", "closed_at"),
        "closed_total": cases.filter(state=State.CLOSED).count(),
    }
