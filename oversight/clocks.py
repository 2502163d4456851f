"""Business-time arithmetic and clock evaluation: plain Python on plain values, no ORM.

A clock counts business minutes (working days and hours of a calendar, in its time zone, less holidays)
from its start to its stop, less the intervals in which it was paused (the case waiting on the customer,
or closed). Every instant is timezone-aware; minutes are whole, rounded down.
"""

from __future__ import annotations

import enum
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

Interval = tuple[datetime, datetime]
FOREVER = datetime.max.replace(tzinfo=UTC)

# The customer holds the ball in these states; "closed" also stops the clocks until a reopen.
PAUSE_STATES = frozenset({"awaiting_customer", "pending_confirmation", "closed"})


@dataclass(frozen=True)
class Calendar:
    time_zone: str
    working_days: frozenset[int]
    day_start: time
    day_end: time
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def _working_window(self, day: date) -> Interval | None:
        if day.weekday() not in self.working_days or day in self.holidays:
            return None
        tz = self.tz
        return (datetime.combine(day, self.day_start, tz), datetime.combine(day, self.day_end, tz))

    def windows(self, start: datetime, end: datetime) -> Iterable[Interval]:
        """The working windows of every local day from ``start`` to ``end``, clipped to both."""
        if end <= start:
            return
        tz = self.tz
        day = start.astimezone(tz).date()
        last = end.astimezone(tz).date()
        while day <= last:
            window = self._working_window(day)
            if window is not None:
                lo, hi = max(window[0], start), min(window[1], end)
                if lo < hi:
                    yield lo, hi
            day += timedelta(days=1)

    def business_seconds(self, start: datetime, end: datetime) -> float:
        return sum((hi - lo).total_seconds() for lo, hi in self.windows(start, end))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same local time ``days`` working days after ``start`` (weekends and holidays skipped): the
        deadline of "answer within five business days"."""
        if not self.working_days:
            raise ValueError("a calendar without working days never reaches a target")
        tz = self.tz
        local = start.astimezone(tz)
        day = local.date()
        left = days
        # Bounded like add_business_seconds: ten years of holidays would be a configuration error.
        for _ in range(3660):
            if left <= 0:
                return datetime.combine(day, local.timetz().replace(tzinfo=None), tz)
            day += timedelta(days=1)
            if self._working_window(day) is not None:
                left -= 1
        raise ValueError("target out of reach within ten years")

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant at which ``seconds`` of business time have passed since ``start``."""
        if not self.working_days:
            raise ValueError("a calendar without working days never reaches a target")
        tz = self.tz
        day = start.astimezone(tz).date()
        remaining = seconds
        # Bounded: ten years of holidays would be a configuration error, not a reason to spin forever.
        for _ in range(3660):
            window = self._working_window(day)
            if window is not None:
                lo = max(window[0], start)
                if lo < window[1]:
                    available = (window[1] - lo).total_seconds()
                    if remaining <= available:
                        return lo + timedelta(seconds=remaining)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("target out of reach within ten years")


@dataclass(frozen=True)
class Event:
    """One audit event of a case, as the clocks need it."""

    at: datetime
    to_state: str
    by_customer: bool
    staff_update: bool  # a customer-visible act by support staff (message, scope, transition)


def paused_intervals(events: Sequence[Event]) -> list[Interval]:
    """Intervals in which the case waited on the customer (or was closed), from its state changes.

    A pause starts on a change into a pause state and ends on a change out of it, or earlier when the
    customer answers (a message, a scope answer, an upload) while the case still waits on them. A pause
    still going on ends at ``FOREVER``.
    """
    pauses: list[Interval] = []
    paused_since: datetime | None = None
    state = ""
    for event in sorted(events, key=lambda e: e.at):
        if event.to_state:
            state = event.to_state
        if paused_since is None:
            if event.to_state in PAUSE_STATES:
                paused_since = event.at
        elif (event.to_state and event.to_state not in PAUSE_STATES) or (
            event.by_customer and state != "closed"
        ):
            pauses.append((paused_since, event.at))
            paused_since = None
    if paused_since is not None:
        pauses.append((paused_since, FOREVER))
    return pauses


def _subtract(start: datetime, end: datetime, pauses: Sequence[Interval]) -> list[Interval]:
    active: list[Interval] = []
    cursor = start
    for lo, hi in sorted(pauses):
        if hi <= cursor or lo >= end:
            continue
        if lo > cursor:
            active.append((cursor, lo))
        cursor = max(cursor, hi)
    if cursor < end:
        active.append((cursor, end))
    return active


class Status(enum.StrEnum):
    RUNNING = "running"
    WARNING = "warning"
    BREACHED = "breached"
    PAUSED = "paused"
    MET = "met"


@dataclass(frozen=True)
class ClockResult:
    clock: str
    target_minutes: int
    elapsed_minutes: int
    started_at: datetime
    stopped_at: datetime | None
    due_at: datetime | None
    paused: bool
    breached: bool
    warning: bool
    breached_at: datetime | None

    @property
    def remaining_minutes(self) -> int:
        return self.target_minutes - self.elapsed_minutes

    @property
    def status(self) -> Status:
        if self.breached:
            return Status.BREACHED
        if self.stopped_at is not None:
            return Status.MET
        if self.paused:
            return Status.PAUSED
        return Status.WARNING if self.warning else Status.RUNNING

    @property
    def share(self) -> float:
        return self.elapsed_minutes / self.target_minutes if self.target_minutes else 0.0


def clock_evaluate(
    *,
    clock: str,
    calendar: Calendar,
    target_minutes: int,
    warning_percent: int,
    started_at: datetime,
    stopped_at: datetime | None,
    pauses: Sequence[Interval],
    now: datetime,
) -> ClockResult:
    """Business minutes used, whether the target is breached (at its exact minute) or near, and when due."""
    end = min(stopped_at, now) if stopped_at is not None else now
    active = _subtract(started_at, end, pauses)
    elapsed_seconds = sum(calendar.business_seconds(lo, hi) for lo, hi in active)
    target_seconds = target_minutes * 60
    paused = stopped_at is None and any(lo <= now < hi for lo, hi in pauses)
    breached_at: datetime | None = None
    if elapsed_seconds >= target_seconds:
        # Walk the active intervals to the instant the target was reached.
        left = float(target_seconds)
        for lo, hi in active:
            span = calendar.business_seconds(lo, hi)
            if left <= span:
                breached_at = calendar.add_business_seconds(lo, left)
                break
            left -= span
    due_at = None
    if stopped_at is None and not paused and breached_at is None:
        due_at = calendar.add_business_seconds(now, target_seconds - elapsed_seconds)
    return ClockResult(
        clock=clock,
        target_minutes=target_minutes,
        elapsed_minutes=int(elapsed_seconds // 60),
        started_at=started_at,
        stopped_at=stopped_at if stopped_at is not None and stopped_at <= now else None,
        due_at=due_at,
        paused=paused,
        breached=breached_at is not None,
        warning=breached_at is None and elapsed_seconds >= target_seconds * warning_percent / 100,
        breached_at=breached_at,
    )
