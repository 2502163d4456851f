"""Managers' figures, computed by the database: counts and groupings are aggregates, percentiles are
``percentile_cont`` on PostgreSQL and an ordered-offset window query elsewhere (SQLite)."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db import connection
from django.db.models import (
    Aggregate,
    CharField,
    Count,
    DurationField,
    Exists,
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
from django.db.models.functions import RowNumber, TruncMonth, TruncWeek
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the interpolated percentile of the group."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: object, fraction: float, **extra: object) -> None:
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


def _duration(end: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F("opened_at"), output_field=DurationField())


def _percentiles_postgres(cases: QuerySet[Case], group: str) -> dict[object, dict[str, list[object]]]:
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


def _percentiles_offsets(cases: QuerySet[Case], group: str) -> dict[object, dict[str, list[object]]]:
    """percentile_cont by hand: rank each duration in its group, fetch the one or two rows around each
    percentile's position, and interpolate between them (a few rows per group reach Python)."""
    result: dict[object, dict[str, list[object]]] = defaultdict(lambda: {n: [None, None] for n in DURATIONS})
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
            rows: dict[object, dict[int, timedelta]] = defaultdict(dict)
            sizes: dict[object, int] = {}
            for key, rn, n, d in near.values_list(group, "rn", "n", "d"):
                rows[key][rn] = d
                sizes[key] = n
            for key, values in rows.items():
                position = p * (sizes[key] - 1)
                lower, upper = math.floor(position), math.ceil(position)
                low, high = values[lower + 1], values[upper + 1]
                result[key][name][index] = low + (high - low) * (position - lower)
    return dict(result)


def _percentiles(cases: QuerySet[Case], group: str) -> dict[object, dict[str, list[object]]]:
    if connection.vendor == "postgresql":
        return _percentiles_postgres(cases, group)
    return _percentiles_offsets(cases, group)


def _weeks(period: Period) -> list[date]:
    first = period.since - timedelta(days=period.since.weekday())
    return [first + timedelta(weeks=i) for i in range((period.until - first).days // 7 + 1)]


def _as_date(value: object) -> date:
    return value.date() if isinstance(value, datetime) else value  # type: ignore[return-value]


def report_build(*, period: Period) -> dict[str, object]:
    """Every figure of the reports page for this period and organisation; a fixed number of queries."""
    cases = Case.objects.all()
    if period.organisation:
        cases = cases.filter(organisation__slug=period.organisation)
    opened = cases.filter(opened_at__gte=period.start, opened_at__lt=period.end)
    closed = cases.filter(closed_at__gte=period.start, closed_at__lt=period.end)

    # Opened and closed per week.
    opened_weeks = dict(
        opened.annotate(week=TruncWeek("opened_at")).values_list("week").annotate(n=Count("id")).order_by()
    )
    closed_weeks = dict(
        closed.annotate(week=TruncWeek("closed_at")).values_list("week").annotate(n=Count("id")).order_by()
    )
    opened_by_week = {_as_date(k): v for k, v in opened_weeks.items()}
    closed_by_week = {_as_date(k): v for k, v in closed_weeks.items()}
    weekly = [(week, opened_by_week.get(week, 0), closed_by_week.get(week, 0)) for week in _weeks(period)]

    # Backlog (open now) by state and age.
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
    backlog = [
        (label, [backlog_counts[value].get(key, 0) for key, _l, _t in AGE_BUCKETS])
        for value, label in State.choices
        if value in OPEN_STATES
    ]

    # Percentiles by engineer and by severity (wall-clock durations of cases opened in the period).
    by_engineer = _percentiles(opened, "owner__username")
    # People by their names (one query for the engineers of the period).
    names = {
        user.username: str(user) for user in User.objects.filter(username__in=[k for k in by_engineer if k])
    }
    by_severity = _percentiles(opened, "severity")
    severity_labels = dict(Severity.choices)

    # Service levels kept and breached: the sweep's snapshots of finished or breached clocks.
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
    sla = [(label, *sla_by_clock.get(value, (0, 0))) for value, label in Clock.choices]

    # Reopen rate among the period's cases that were closed at least once.
    reopened = Exists(AuditEvent.objects.filter(case=OuterRef("pk"), action="reopen"))
    rates = {
        "closed": opened.filter(Q(closed_at__isnull=False) | Q(reopened)).count(),
        "reopened": opened.filter(reopened).count(),
    }

    # Resolution types of the cases closed in the period (their latest summary).
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
    resolutions = [(label, resolution_counts.get(value, 0)) for value, label in ResolutionType.choices]

    # Crash figures across the period's cases: top codes and drivers, and their cases per month.
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

    return {
        "period": period,
        "opened_total": sum(opened_by_week.values()),
        "closed_total": sum(closed_by_week.values()),
        "weekly": weekly,
        "backlog": backlog,
        "backlog_total": sum(sum(counts) for _label, counts in backlog),
        "age_buckets": [label for _k, label, _t in AGE_BUCKETS],
        "durations": [(name, label) for name, (_end, label) in DURATIONS.items()],
        "by_engineer": [
            (names.get(key, key) if key else None, _flat(metrics))
            for key, metrics in sorted(
                by_engineer.items(), key=lambda item: (item[0] is None, names.get(item[0] or "", ""))
            )
        ],
        "by_severity": [
            (severity_labels[value], _flat(by_severity[value]))
            for value in Severity.values
            if value in by_severity
        ],
        "sla": sla,
        "sla_total": sum(kept + breached for _label, kept, breached in sla),
        "reopen": rates,
        "reopen_rate": (rates["reopened"] / rates["closed"]) if rates["closed"] else None,
        "resolutions": resolutions,
        "resolutions_total": sum(resolution_counts.values()),
        "top_codes": top_codes,
        "top_drivers": top_drivers,
        "code_months": code_months,
        "driver_months": driver_months,
    }


def _flat(metrics: dict[str, list[object]]) -> list[object]:
    return [value for name in DURATIONS for value in metrics[name]]


def _monthly(rows: QuerySet, key: str) -> dict[str, object]:
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
    return {
        "keys": keys,
        "rows": [(month, [table[month].get(name, 0) for name in keys]) for month in sorted(table)],
    }
