"""Managers' figures, computed by the database: counts and groupings are aggregates, percentiles are
``percentile_cont`` on PostgreSQL and an ordered-offset window query elsewhere (SQLite)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    DurationField,
    Exists,
    Expression,
    ExpressionWrapper,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
    Window,
)
from django.db.models import Case as CaseWhen
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import RowNumber, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_stubs_ext import StrOrPromise

from accounts.models import User
from analysis.models import Crash, CrashDriver
from cases.models import OPEN_STATES, AuditEvent, Case, CaseSummary, ResolutionType, Severity, State
from oversight.models import CaseClock, Clock

DEFAULT_WEEKS = 12
PERCENTILES = (0.5, 0.9)
DURATIONS = {
    "first_response": ("first_response_at", _("Time to first response")),
    "scope": ("scoped_at", _("Time to scope")),
    "close": ("closed_at", _("Time to close")),
}
AGE_BUCKETS = (
    ("lt1d", _("Under a day"), timedelta(days=1)),
    ("lt7d", _("1 to 7 days"), timedelta(days=7)),
    ("lt30d", _("7 to 30 days"), timedelta(days=30)),
    ("old", _("Over 30 days"), None),
)


# Per group (an engineer's user name, None when unassigned, or a severity): for each duration, its
# median and 90th percentile (None without a case).
Percentiles = dict[str | None, dict[str, list[timedelta | None]]]


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the interpolated percentile of the group."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Expression, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), output_field=DurationField(), **extra)


@dataclass(frozen=True)
class Period:
    since: date
    until: date
    organisation: str = ""

    @property
    def start(self) -> datetime:
        return datetime.combine(self.since, time.min, timezone.get_current_timezone())

    @property
    def end(self) -> datetime:
        return datetime.combine(self.until + timedelta(days=1), time.min, timezone.get_current_timezone())

    @classmethod
    def default(cls, organisation: str = "") -> Period:
        today = timezone.localdate()
        return cls(since=today - timedelta(weeks=DEFAULT_WEEKS), until=today, organisation=organisation)


def _duration(end: str) -> ExpressionWrapper[CombinedExpression]:
    return ExpressionWrapper(F(end) - F("opened_at"), output_field=DurationField())


def _percentiles_postgres(cases: QuerySet[Case], group: str) -> Percentiles:
    aggregates = {
        f"{name}_{int(p * 100)}": PercentileCont(_duration(end), p)
        for name, (end, _label) in DURATIONS.items()
        for p in PERCENTILES
    }
    rows = cases.values(group).annotate(**aggregates).order_by()
    return {
        row[group]: {name: [row[f"{name}_{int(p * 100)}"] for p in PERCENTILES] for name in DURATIONS}
        for row in rows
    }


def _percentiles_offsets(cases: QuerySet[Case], group: str) -> Percentiles:
    """percentile_cont by hand: rank each duration in its group, fetch the one or two rows around each
    percentile's position, and interpolate between them (a few rows per group reach Python)."""
    result: Percentiles = defaultdict(lambda: {n: [None, None] for n in DURATIONS})
    for name, (end, _label) in DURATIONS.items():
        ranked = (
            cases.filter(**{f"{end}__isnull": False})
            .annotate(d=_duration(end))
            .annotate(
                rn=Window(RowNumber(), partition_by=[F(group)], order_by=[F("d").asc(), F("id").asc()]),
                n=Window(Count("id"), partition_by=[F(group)]),
            )
        )
        for index, p in enumerate(PERCENTILES):
            near = ranked.filter(rn__gt=(F("n") - 1) * p, rn__lt=(F("n") - 1) * p + 2)
            rows: dict[str | None, dict[int, timedelta]] = defaultdict(dict)
            sizes: dict[str | None, int] = {}
            for key, rn, n, d in near.values_list(group, "rn", "n", "d"):
                rows[key][rn] = d
                sizes[key] = n
            for key, values in rows.items():
                position = p * (sizes[key] - 1)
                lower, upper = math.floor(position), math.ceil(position)
                low, high = values[lower + 1], values[upper + 1]
                result[key][name][index] = low + (high - low) * (position - lower)
    return dict(result)


def _percentiles(cases: QuerySet[Case], group: str) -> Percentiles:
    if connection.vendor == "postgresql":
        return _percentiles_postgres(cases, group)
    return _percentiles_offsets(cases, group)


def _weeks(period: Period) -> list[date]:
    first = period.since - timedelta(days=period.since.weekday())
    return [first + timedelta(weeks=i) for i in range((period.until - first).days // 7 + 1)]


def _as_date(value: date | datetime) -> date:
    """A truncated week or month (a datetime from the database) as the date the tables are keyed by."""
    return value.date() if isinstance(value, datetime) else value


@dataclass(frozen=True)
class MonthlyTable:
    """Cases per month (of the case's opening) for each key: a month x key table."""

    keys: list[str]
    rows: list[tuple[date, list[int]]]


@dataclass(frozen=True)
class ReopenCounts:
    """The period's cases closed at least once, and those of them reopened."""

    closed: int
    reopened: int

    @property
    def rate(self) -> float | None:
        return self.reopened / self.closed if self.closed else None


@dataclass(frozen=True)
class Report:
    """Every figure of the reports page (``oversight/_report_body.html``) for one period."""

    period: Period
    weekly: list[tuple[date, int, int]]  # week, opened, closed
    opened_total: int
    closed_total: int
    backlog: list[tuple[StrOrPromise, list[int]]]  # open state, cases per age bucket
    backlog_total: int
    age_buckets: list[StrOrPromise]
    durations: list[tuple[str, StrOrPromise]]  # name, label: the columns of by_engineer and by_severity
    by_engineer: list[tuple[str | None, list[timedelta | None]]]  # name, median and 90th per duration
    by_severity: list[tuple[StrOrPromise, list[timedelta | None]]]
    sla: list[tuple[StrOrPromise, int, int]]  # clock, kept, breached
    sla_total: int
    reopen: ReopenCounts
    reopen_rate: float | None
    resolutions: list[tuple[StrOrPromise, int]]
    resolutions_total: int
    top_codes: list[tuple[str, int, int]]  # bug check code, cases, crashes
    top_drivers: list[tuple[str, int, int]]  # driver, cases, crashes
    code_months: MonthlyTable
    driver_months: MonthlyTable


def report_build(*, period: Period) -> Report:
    """Every figure of the reports page for this period and organisation; a fixed number of queries."""
    cases = Case.objects.all()
    if period.organisation:
        cases = cases.filter(organisation__slug=period.organisation)
    opened = cases.filter(opened_at__gte=period.start, opened_at__lt=period.end)
    closed = cases.filter(closed_at__gte=period.start, closed_at__lt=period.end)
    weekly, opened_total, closed_total = _weekly(period, opened, closed)
    backlog = _backlog(cases)
    by_engineer, by_severity = _durations(opened)
    sla = _service_levels(opened)
    reopen = _reopen_counts(opened)
    resolutions, resolutions_total = _resolutions(closed)
    top_codes, top_drivers, code_months, driver_months = _crash_figures(opened)
    return Report(
        period=period,
        weekly=weekly,
        opened_total=opened_total,
        closed_total=closed_total,
        backlog=backlog,
        backlog_total=sum(sum(counts) for _label, counts in backlog),
        age_buckets=[label for _k, label, _t in AGE_BUCKETS],
        durations=[(name, label) for name, (_end, label) in DURATIONS.items()],
        by_engineer=by_engineer,
        by_severity=by_severity,
        sla=sla,
        sla_total=sum(kept + breached for _label, kept, breached in sla),
        reopen=reopen,
        reopen_rate=reopen.rate,
        resolutions=resolutions,
        resolutions_total=resolutions_total,
        top_codes=top_codes,
        top_drivers=top_drivers,
        code_months=code_months,
        driver_months=driver_months,
    )


def _weekly(
    period: Period, opened: QuerySet[Case], closed: QuerySet[Case]
) -> tuple[list[tuple[date, int, int]], int, int]:
    """Cases opened and closed per week of the period, and the totals."""
    opened_weeks = dict(
        opened.annotate(week=TruncWeek("opened_at")).values_list("week").annotate(n=Count("id")).order_by()
    )
    closed_weeks = dict(
        closed.annotate(week=TruncWeek("closed_at")).values_list("week").annotate(n=Count("id")).order_by()
    )
    opened_by_week = {_as_date(k): v for k, v in opened_weeks.items()}
    closed_by_week = {_as_date(k): v for k, v in closed_weeks.items()}
    weekly = [(week, opened_by_week.get(week, 0), closed_by_week.get(week, 0)) for week in _weeks(period)]
    return weekly, sum(opened_by_week.values()), sum(closed_by_week.values())


def _backlog(cases: QuerySet[Case]) -> list[tuple[StrOrPromise, list[int]]]:
    """The cases open now, by state and age."""
    now = timezone.now()
    bucket = CaseWhen(
        *[When(opened_at__gt=now - limit, then=Value(key)) for key, _l, limit in AGE_BUCKETS if limit],
        default=Value(AGE_BUCKETS[-1][0]),
        output_field=CharField(),
    )
    backlog_rows = (
        cases.filter(state__in=OPEN_STATES)
        .annotate(bucket=bucket)
        .values_list("state", "bucket")
        .annotate(n=Count("id"))
        .order_by()
    )
    backlog_counts: dict[str, dict[str, int]] = defaultdict(dict)
    for state, key, n in backlog_rows:
        backlog_counts[state][key] = n
    return [
        (label, [backlog_counts[value].get(key, 0) for key, _l, _t in AGE_BUCKETS])
        for value, label in State.choices
        if value in OPEN_STATES
    ]


def _durations(
    opened: QuerySet[Case],
) -> tuple[
    list[tuple[str | None, list[timedelta | None]]], list[tuple[StrOrPromise, list[timedelta | None]]]
]:
    """Percentiles by engineer (by name, unassigned last) and by severity: wall-clock durations of the
    cases opened in the period."""
    by_engineer = _percentiles(opened, "owner__username")
    # People by their names (one query for the engineers of the period).
    names = {
        user.username: str(user) for user in User.objects.filter(username__in=[k for k in by_engineer if k])
    }
    by_severity = _percentiles(opened, "severity")
    severity_labels = dict(Severity.choices)
    engineers = sorted(by_engineer.items(), key=lambda item: (item[0] is None, names.get(item[0] or "", "")))
    return (
        [(names.get(key, key) if key else None, _flat(metrics)) for key, metrics in engineers],
        [
            (severity_labels[value], _flat(by_severity[value]))
            for value in Severity.values
            if value in by_severity
        ],
    )


def _service_levels(opened: QuerySet[Case]) -> list[tuple[StrOrPromise, int, int]]:
    """Service levels kept and breached: the sweep's snapshots of finished or breached clocks."""
    sla_rows = (
        CaseClock.objects.filter(case__in=opened)
        .values("clock")
        .annotate(
            kept=Count("id", filter=Q(breached=False, stopped_at__isnull=False)),
            breached=Count("id", filter=Q(breached=True)),
        )
        .order_by()
    )
    sla_by_clock = {row["clock"]: (row["kept"], row["breached"]) for row in sla_rows}
    return [(label, *sla_by_clock.get(value, (0, 0))) for value, label in Clock.choices]


def _reopen_counts(opened: QuerySet[Case]) -> ReopenCounts:
    """Reopen rate among the period's cases that were closed at least once."""
    reopened = Exists(AuditEvent.objects.filter(case=OuterRef("pk"), action="reopen"))
    return ReopenCounts(
        closed=opened.filter(Q(closed_at__isnull=False) | Q(reopened)).count(),
        reopened=opened.filter(reopened).count(),
    )


def _resolutions(closed: QuerySet[Case]) -> tuple[list[tuple[StrOrPromise, int]], int]:
    """Resolution types of the cases closed in the period (their latest summary), and their total."""
    latest_type = Subquery(
        CaseSummary.objects.filter(case=OuterRef("pk")).order_by("-version").values("resolution_type")[:1]
    )
    resolution_counts = dict(
        closed.filter(state=State.CLOSED)
        .annotate(rtype=latest_type)
        .values_list("rtype")
        .annotate(n=Count("id"))
        .order_by()
    )
    resolutions: list[tuple[StrOrPromise, int]] = [
        (label, resolution_counts.get(value, 0)) for value, label in ResolutionType.choices
    ]
    return resolutions, sum(resolution_counts.values())


def _crash_figures(
    opened: QuerySet[Case],
) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]], MonthlyTable, MonthlyTable]:
    """Crash figures across the period's cases: top codes and drivers, and their cases per month."""
    crashes = Crash.objects.filter(case__in=opened).exclude(code="")
    top_codes = list(
        crashes.values_list("code")
        .annotate(cases=Count("case", distinct=True), n=Count("id"))
        .order_by("-cases", "code")[:8]
    )
    drivers = CrashDriver.objects.filter(case__in=opened)
    top_drivers = list(
        drivers.values_list("name")
        .annotate(cases=Count("case", distinct=True), n=Count("id"))
        .order_by("-cases", "name")[:8]
    )
    code_months = _monthly(crashes.filter(code__in=[row[0] for row in top_codes]), "code")
    driver_months = _monthly(drivers.filter(name__in=[row[0] for row in top_drivers]), "name")
    return top_codes, top_drivers, code_months, driver_months


def _flat(metrics: dict[str, list[timedelta | None]]) -> list[timedelta | None]:
    return [value for name in DURATIONS for value in metrics[name]]


def _monthly(rows: QuerySet[Crash] | QuerySet[CrashDriver], key: str) -> MonthlyTable:
    """Cases per month (of the case's opening) for each key: a month x key table."""
    counts = (
        rows.annotate(month=TruncMonth("case__opened_at"))
        .values_list("month", key)
        .annotate(cases=Count("case", distinct=True))
        .order_by("month", key)
    )
    table: dict[date, dict[str, int]] = defaultdict(dict)
    keys: list[str] = []
    for month, name, n in counts:
        table[_as_date(month)][name] = n
        if name not in keys:
            keys.append(name)
    return MonthlyTable(
        keys=keys, rows=[(month, [table[month].get(name, 0) for name in keys]) for month in sorted(table)]
    )
