"""Service-level clocks with frozen time: business hours, holidays, pause and resume, exact breaches,
and one notification per event."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest
from django.core import mail

from accounts.models import User
from cases import services as case_services
from oversight import services
from oversight.clocks import FOREVER, Calendar, Event, Status, clock_evaluate, paused_intervals
from oversight.models import BusinessCalendar, CaseClock, ClockNotification, Holiday, ServiceTarget
from oversight.selectors import case_clocks, sla_config_load
from oversight.tasks import sla_notification_send
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

MON = date(2026, 3, 2)
WEEK = Calendar(
    time_zone="UTC",
    working_days=frozenset(range(5)),
    day_start=time(9),
    day_end=time(18),
    holidays=frozenset(),
)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant in the week of Monday 2 March 2026 (day 0 = Monday), UTC."""
    return datetime(2026, 3, 2 + day, hour, minute, tzinfo=UTC)


def _clock(of: str, case) -> object:
    return next(c for c in case_clocks(cases=[case])[case.pk] if c.clock == of)


# -- the calendar arithmetic ------------------------------------------------------------------------------


def test_business_minutes_count_only_working_hours():
    assert WEEK.business_seconds(at(0, 8), at(0, 10)) == 3600  # 08:00-09:00 is before hours
    assert WEEK.business_seconds(at(4, 17), at(7, 10)) == 2 * 3600  # Friday 17:00 to Monday 10:00
    assert WEEK.business_seconds(at(5, 9), at(6, 18)) == 0  # the weekend


def test_a_holiday_is_skipped():
    holiday = Calendar(**{**WEEK.__dict__, "holidays": frozenset({date(2026, 3, 3)})})
    assert holiday.business_seconds(at(0, 9), at(2, 9)) == 9 * 3600
    # Eight business hours from Monday 17:00: one on Monday, the Tuesday holiday, seven on Wednesday.
    assert holiday.add_business_seconds(at(0, 17), 8 * 3600) == at(2, 16)


def test_time_zone_of_the_calendar_sets_the_working_day():
    shanghai = Calendar(**{**WEEK.__dict__, "time_zone": "Asia/Shanghai"})
    # 09:00 in Shanghai is 01:00 UTC.
    assert shanghai.business_seconds(at(0, 0), at(0, 2)) == 3600


def test_customer_answer_ends_a_pause_before_the_state_changes():
    events = [
        Event(at=at(0, 10), to_state="awaiting_customer", by_customer=False, staff_update=True),
        Event(at=at(0, 12), to_state="", by_customer=True, staff_update=False),
        Event(at=at(0, 15), to_state="investigating", by_customer=False, staff_update=True),
    ]
    assert paused_intervals(events) == [(at(0, 10), at(0, 12))]
    assert paused_intervals(events[:1]) == [(at(0, 10), FOREVER)]


def test_breach_at_the_exact_minute():
    common = {
        "clock": "first_response",
        "calendar": WEEK,
        "target_minutes": 60,
        "warning_percent": 80,
        "started_at": at(0, 9),
        "stopped_at": None,
        "pauses": [],
    }
    before = clock_evaluate(**common, now=at(0, 9, 59))
    assert before.status == Status.WARNING and before.due_at == at(0, 10) and before.remaining_minutes == 1
    on_time = clock_evaluate(**common, now=at(0, 10))
    assert on_time.status == Status.BREACHED and on_time.breached_at == at(0, 10)
    assert clock_evaluate(**common, now=at(0, 9, 47)).status == Status.RUNNING  # under 80 %


# -- cases driven through the services with frozen time ------------------------------------------------


def test_default_calendar_and_targets_are_seeded():
    calendar = BusinessCalendar.objects.get(organisation__isnull=True)
    assert calendar.working_days == [0, 1, 2, 3, 4]
    assert (calendar.day_start, calendar.day_end) == (time(9), time(18))
    assert ServiceTarget.objects.filter(organisation__isnull=True).count() == 4


def test_clock_counts_business_hours_from_opening(frozen, case, engineer):
    # Opened Monday 08:00: the first hour is outside business hours.
    frozen.set(at(0, 11, 30))
    clock = _clock("first_response", case)
    assert clock.elapsed_minutes == 150 and clock.status == Status.RUNNING
    # Medium: the nine-hour first response target is the whole of Monday's working day.
    assert clock.due_at == at(0, 18)


def test_organisation_override_and_holiday_move_the_due_time(frozen, case, organisation):
    ServiceTarget.objects.create(
        organisation=organisation,
        severity="medium",
        first_response_minutes=10 * 60,
        scope_minutes=60,
        update_minutes=60,
        resolution_minutes=600,
    )
    Holiday.objects.create(calendar=BusinessCalendar.objects.get(), date=date(2026, 3, 3), name="Holiday")
    frozen.set(at(0, 9))
    # Nine hours on Monday, Tuesday is a holiday, the tenth hour ends Wednesday 10:00.
    assert _clock("first_response", case).due_at == at(2, 10)


def test_settings_are_cached_and_a_manager_change_applies_at_once(
    frozen, case, organisation, django_assert_num_queries
):
    """The calendars and targets are read once, then from the cache; a saved target or calendar clears it."""

    frozen.set(at(0, 9))
    assert _clock("first_response", case).due_at == at(0, 18)
    with django_assert_num_queries(0):
        sla_config_load()
    manager = UserFactory(username="manager", role=User.Role.MANAGER)
    target = ServiceTarget(
        organisation=organisation,
        severity="medium",
        first_response_minutes=60,
        scope_minutes=60,
        update_minutes=60,
        resolution_minutes=600,
    )
    services.service_target_save(actor=manager, target=target)
    assert _clock("first_response", case).due_at == at(0, 10)
    calendar = BusinessCalendar.objects.get()
    services.business_calendar_save(
        actor=manager, calendar=calendar, holidays=[(date(2026, 3, 2), "Holiday")]
    )
    assert _clock("first_response", case).due_at == at(1, 10)


def test_clock_pauses_while_awaiting_customer_and_resumes_when_they_answer(frozen, case, engineer, customer):
    frozen.set(at(0, 9))
    case_services.scope_save(
        actor=engineer, case=case, problem_definition="p", scope="s", next_steps="Upload the dumps."
    )
    frozen.set(at(0, 10))
    case_services.case_transition(actor=engineer, case=case, name="send_scope")  # awaiting_customer
    frozen.set(at(0, 14))
    resolution = _clock("resolution", case)
    # Only 09:00-10:00 counts: the case has waited on the customer since 10:00.
    assert resolution.status == Status.PAUSED and resolution.elapsed_minutes == 60
    case_services.timeline_add(actor=customer, case=case, body="Dumps uploaded.")
    frozen.set(at(0, 15))
    resolution = _clock("resolution", case)
    assert resolution.status == Status.RUNNING and resolution.elapsed_minutes == 60 + 60


def test_sweep_warns_once_and_breaches_once_with_mail_to_owner_and_managers(
    frozen, case, engineer, manager, django_capture_on_commit_callbacks
):
    case.severity = "critical"  # first response: one business hour
    case.save(update_fields=["severity"])
    frozen.set(at(0, 9, 48))  # 48 of 60 minutes: the warning share
    with django_capture_on_commit_callbacks() as callbacks:
        first = services.sla_sweep()
        second = services.sla_sweep()
    assert (first.notifications, second.notifications) == (1, 0)
    notification = ClockNotification.objects.get()
    assert (notification.clock, notification.kind) == ("first_response", "warning")
    assert len(callbacks) == 1

    assert sla_notification_send(notification.pk) == 2
    assert sorted(m.to[0] for m in mail.outbox) == sorted([engineer.email, manager.email])
    assert "at risk" in mail.outbox[0].subject
    assert sla_notification_send(notification.pk) == 0  # a redelivered task sends nothing again

    frozen.set(at(0, 10))
    assert services.sla_sweep().notifications == 1
    assert services.sla_sweep().notifications == 0
    breach = ClockNotification.objects.get(kind="breach")
    assert breach.clock == "first_response"
    snapshot = CaseClock.objects.get(case=case, clock="first_response")
    assert snapshot.breached and snapshot.due_at is None


def test_met_clock_is_not_notified(frozen, case, engineer):
    frozen.set(at(0, 9, 30))
    case_services.timeline_add(actor=engineer, case=case, body="Looking into it.")
    frozen.set(at(3, 9))
    services.sla_sweep()
    assert not ClockNotification.objects.filter(clock="first_response").exists()
    assert CaseClock.objects.get(case=case, clock="first_response").stopped_at == at(0, 9, 30)
