"""Reads of the oversight app: service-level settings, live clocks, the review queue, the audit trail."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from cases.models import AuditEvent, Case, CaseSummary, State
from oversight.clocks import Calendar, ClockResult, Event, clock_evaluate, paused_intervals
from oversight.models import BusinessCalendar, CaseClock, Clock, ServiceTarget, SummaryReview

STAFF_ROLES = frozenset({User.Role.ENGINEER, User.Role.MANAGER, User.Role.ACCOUNT_MANAGER})


# -- service levels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    minutes: dict[str, int]
    warning_percent: int


@dataclass(frozen=True)
class SlaConfig:
    """Every calendar and target, loaded once (a handful of rows) for a page or a sweep."""

    calendars: dict[int | None, Calendar]
    targets: dict[tuple[int | None, str], Targets]

    def calendar_for(self, organisation_id: int) -> Calendar | None:
        return self.calendars.get(organisation_id) or self.calendars.get(None)

    def targets_for(self, organisation_id: int, severity: str) -> Targets | None:
        return self.targets.get((organisation_id, severity)) or self.targets.get((None, severity))


SLA_CONFIG_CACHE_KEY = "oversight:sla-config:1"
SLA_CONFIG_CACHE_SECONDS = 300


def sla_config_load() -> SlaConfig:
    """Calendars with their holidays and all targets, from the cache: every case page and sweep needs
    them and they change a few times a year. Saving or deleting one clears the cache (see
    :func:`sla_config_forget`); the timeout bounds what a queryset ``update()`` could leave stale."""
    config: SlaConfig | None = cache.get(SLA_CONFIG_CACHE_KEY)
    if config is None:
        config = _sla_config_query()
        cache.set(SLA_CONFIG_CACHE_KEY, config, SLA_CONFIG_CACHE_SECONDS)
    return config


def sla_config_forget(**_signal: object) -> None:
    """Clear the cached settings now and again after the commit, so that a request which read the old
    rows in between cannot keep them cached."""
    cache.delete(SLA_CONFIG_CACHE_KEY)
    transaction.on_commit(lambda: cache.delete(SLA_CONFIG_CACHE_KEY))


def _sla_config_query() -> SlaConfig:
    """Calendars with their holidays and all targets: two queries."""
    calendars = {
        row.organisation_id: Calendar(
            time_zone=row.time_zone,
            working_days=frozenset(row.working_days),
            day_start=row.day_start,
            day_end=row.day_end,
            holidays=frozenset(h.date for h in row.holidays.all()),
        )
        for row in BusinessCalendar.objects.prefetch_related("holidays")
        if row.working_days and row.day_end > row.day_start
    }
    targets = {
        (row.organisation_id, row.severity): Targets(
            minutes={clock: row.minutes_for(clock) for clock in Clock.values},
            warning_percent=row.warning_percent,
        )
        for row in ServiceTarget.objects.all()
    }
    return SlaConfig(calendars=calendars, targets=targets)


def _case_events(case_ids: Iterable[int]) -> dict[int, list[Event]]:
    """The audit events that move clocks, for many cases in one query."""
    rows = (
        AuditEvent.objects.filter(case_id__in=list(case_ids))
        .filter(~Q(to_state="") | Q(customer_visible=True) | Q(actor__role=User.Role.CUSTOMER))
        .values_list("case_id", "created_at", "to_state", "actor__role", "customer_visible")
        .order_by("created_at", "id")
    )
    events: dict[int, list[Event]] = defaultdict(list)
    for case_id, at, to_state, role, visible in rows:
        events[case_id].append(
            Event(
                at=at,
                to_state=to_state,
                by_customer=role == User.Role.CUSTOMER,
                staff_update=bool(visible) and role in STAFF_ROLES,
            )
        )
    return events


def _clocks_of(case: Case, events: list[Event], config: SlaConfig, now: datetime) -> list[ClockResult]:
    calendar = config.calendar_for(case.organisation_id)
    targets = config.targets_for(case.organisation_id, case.severity)
    if calendar is None or targets is None:
        return []
    pauses = paused_intervals(events)
    closed_at = case.closed_at if case.state == State.CLOSED else None
    runs: list[tuple[str, datetime, datetime | None]] = [
        (Clock.FIRST_RESPONSE, case.opened_at, case.first_response_at),
        (Clock.SCOPE, case.opened_at, case.scoped_at),
    ]
    if case.first_response_at is not None and closed_at is None:
        # The update interval restarts at every customer-visible act of the support side.
        last = max([case.first_response_at, *(e.at for e in events if e.staff_update)])
        runs.append((Clock.UPDATE, last, None))
    runs.append((Clock.RESOLUTION, case.opened_at, closed_at))
    results = []
    for clock, started_at, stopped_at in runs:
        if stopped_at is None and closed_at is not None:
            continue  # a closed case never responded or scoped: nothing left to count
        results.append(
            clock_evaluate(
                clock=clock,
                calendar=calendar,
                target_minutes=targets.minutes[clock],
                warning_percent=targets.warning_percent,
                started_at=started_at,
                stopped_at=stopped_at,
                pauses=pauses,
                now=now,
            )
        )
    return results


def case_clocks(
    *, cases: Iterable[Case], now: datetime | None = None, config: SlaConfig | None = None
) -> dict[int, list[ClockResult]]:
    """Live clocks of these cases: the settings and one query for all their events."""
    cases = list(cases)
    now = now or timezone.now()
    config = config or sla_config_load()
    events = _case_events(case.pk for case in cases)
    return {case.pk: _clocks_of(case, events.get(case.pk, []), config, now) for case in cases}


def case_clock_snapshots(*, case_ids: Iterable[int]) -> dict[int, list[CaseClock]]:
    """The sweep's last evaluation of these cases' clocks (for lists: one query per page)."""
    snapshots: dict[int, list[CaseClock]] = defaultdict(list)
    for row in CaseClock.objects.filter(case_id__in=list(case_ids)).order_by("case_id", "clock"):
        snapshots[row.case_id].append(row)
    return snapshots


# -- review ---------------------------------------------------------------------------------------------


class ReviewState:
    PENDING = "pending"
    APPROVED = SummaryReview.Decision.APPROVED.value
    RETURNED = SummaryReview.Decision.RETURNED.value


def review_queue(
    *,
    engineer: str = "",
    organisation: str = "",
    resolution_type: str = "",
    review_state: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[CaseSummary]:
    """Closed cases' latest summaries with their review (if any), filtered; one query for a page."""
    newer = CaseSummary.objects.filter(case=OuterRef("case"), version__gt=OuterRef("version"))
    summaries = (
        CaseSummary.objects.filter(case__state=State.CLOSED)
        .filter(~Exists(newer))
        .select_related("case__organisation", "case__owner", "author", "review__reviewer")
        .order_by("-created_at", "-id")
    )
    if engineer:
        summaries = summaries.filter(case__owner__username=engineer)
    if organisation:
        summaries = summaries.filter(case__organisation__slug=organisation)
    if resolution_type:
        summaries = summaries.filter(resolution_type=resolution_type)
    if review_state == ReviewState.PENDING:
        summaries = summaries.filter(review__isnull=True)
    elif review_state in {ReviewState.APPROVED, ReviewState.RETURNED}:
        summaries = summaries.filter(review__decision=review_state)
    if since:
        summaries = summaries.filter(case__closed_at__date__gte=since)
    if until:
        summaries = summaries.filter(case__closed_at__date__lte=until)
    return summaries


def summary_latest(*, case: Case) -> CaseSummary | None:
    return case.summaries.select_related("author", "review__reviewer").first()


def summary_history(*, case: Case) -> QuerySet[CaseSummary]:
    return case.summaries.select_related("author", "review__reviewer")


# -- audit ------------------------------------------------------------------------------------------------


def audit_trail(
    *,
    case_number: str = "",
    username: str = "",
    action: str = "",
    since: date | None = None,
    until: date | None = None,
) -> QuerySet[AuditEvent]:
    """The audit events of a case or of a user (as actor), filtered, newest first."""
    events = AuditEvent.objects.select_related("case", "actor").order_by("-created_at", "-id")
    if case_number:
        events = events.filter(case__number=case_number.strip())
    if username:
        events = events.filter(actor__username=username.strip())
    if action:
        events = events.filter(action=action)
    if since:
        events = events.filter(created_at__date__gte=since)
    if until:
        events = events.filter(created_at__date__lte=until)
    return events


def audit_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct())
