"""Writes of the oversight app: clock sweeps and their notifications, summary reviews and rewrites,
service-level settings (STYLE.md rules 2 and 4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.capabilities import can_manage_service_levels, can_review, can_work_cases
from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, InvalidState, NotAllowed
from cases.models import OPEN_STATES, Case, CaseSummary, ResolutionType, State
from cases.records import summary_version_add
from outbox.services import outbox_publish
from oversight.clocks import ClockResult
from oversight.models import (
    BusinessCalendar,
    CaseClock,
    ClockNotification,
    Holiday,
    ServiceTarget,
    SummaryReview,
)
from oversight.selectors import case_clocks, sla_config_load

SWEEP_CHUNK = 500


def export_record(
    *, actor: User, action: AuditAction, case: Case | None = None, filters: dict[str, str] | None = None
) -> None:
    """Audit a download of portal data (summary PDF, review or audit CSV): who took what, with which
    filters. A record only: an export is nobody's notification."""
    audit_record(case=case, actor=actor, action=action, data={"filters": filters or {}})


# -- clocks -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    cases: int
    notifications: int


def _snapshot(case: Case, result: ClockResult, now: datetime) -> CaseClock:
    return CaseClock(
        case=case,
        clock=result.clock,
        target_minutes=result.target_minutes,
        elapsed_minutes=result.elapsed_minutes,
        started_at=result.started_at,
        stopped_at=result.stopped_at,
        due_at=result.due_at,
        breached=result.breached,
        at_risk=result.warning,
        evaluated_at=now,
    )


def _notify(case: Case, result: ClockResult, kind: str) -> bool:
    """Record the event once; the unique key turns a second sweep's attempt into a no-op."""
    try:
        with transaction.atomic():
            notification = ClockNotification.objects.create(
                case=case, clock=result.clock, kind=kind, clock_started_at=result.started_at
            )
            outbox_publish(
                task="oversight.tasks.sla_notification_send",
                args=[notification.pk],
                key=f"sla_notification_send:{notification.pk}",
            )
    except IntegrityError:
        return False
    return True


def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Evaluate the clocks of open cases (and of cases closed since their last evaluation), store the
    snapshots reports read, and record each warning and breach once, e-mailed after commit."""
    now = now or timezone.now()
    config = sla_config_load()
    evaluated_since_close = Exists(
        CaseClock.objects.filter(
            case=OuterRef("pk"), clock="resolution", evaluated_at__gte=OuterRef("closed_at")
        )
    )
    cases = (
        Case.objects.filter(Q(state__in=OPEN_STATES) | (Q(state=State.CLOSED) & ~evaluated_since_close))
        .select_related("owner")
        .order_by("pk")
    )
    ids = list(cases.values_list("pk", flat=True))
    sent = 0
    for start in range(0, len(ids), SWEEP_CHUNK):
        chunk = list(cases.filter(pk__in=ids[start : start + SWEEP_CHUNK]))
        clocks = case_clocks(cases=chunk, now=now, config=config)
        with transaction.atomic():
            snapshots = [_snapshot(case, result, now) for case in chunk for result in clocks[case.pk]]
            CaseClock.objects.filter(case__in=chunk).delete()
            CaseClock.objects.bulk_create(snapshots)
            for case in chunk:
                if case.state == State.CLOSED:
                    continue
                for result in clocks[case.pk]:
                    if result.stopped_at is not None:
                        continue
                    if result.breached:
                        sent += _notify(case, result, ClockNotification.Kind.BREACH)
                    elif result.warning and not result.paused:
                        sent += _notify(case, result, ClockNotification.Kind.WARNING)
    return SweepResult(cases=len(ids), notifications=sent)


def sla_notification_recipients(notification: ClockNotification) -> list[User]:
    """The case owner and every active manager, each once, with an e-mail address."""
    people = {user.pk: user for user in User.objects.filter(role=User.Role.MANAGER, is_active=True)}
    owner = notification.case.owner
    if owner is not None and owner.is_active:
        people[owner.pk] = owner
    return [user for user in people.values() if user.email]


def sla_notification_mark_sent(*, notification: ClockNotification, recipients: list[str]) -> None:
    """Remember who was told, so a retried task does not e-mail them again."""
    ClockNotification.objects.filter(pk=notification.pk, sent_at__isnull=True).update(
        sent_at=timezone.now(), recipients=recipients
    )


# -- review -----------------------------------------------------------------------------------------------


def summary_review(
    *,
    actor: User,
    summary: CaseSummary,
    approve: bool,
    comment: str = "",
    checklist: dict[str, bool] | None = None,
) -> SummaryReview:
    """Approve the latest summary of a closed case (every checklist item ticked), or return it to the
    engineer with a comment; the engineer is notified through the case's audit event."""
    if not can_review(actor):
        raise NotAllowed(_("Only managers can do this."))
    checklist = {name: bool((checklist or {}).get(name)) for name in SummaryReview.CHECKLIST}
    if approve and not all(checklist.values()):
        raise InvalidInput(_("Tick every item of the checklist to approve, or return the summary."))
    if not approve and not comment.strip():
        raise InvalidInput(_("Say what the engineer should change."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=summary.case_id)
        latest = case.summaries.first()
        if case.state != State.CLOSED or latest is None or latest.pk != summary.pk:
            raise InvalidState(_("Only the latest summary of a closed case can be reviewed."))
        if SummaryReview.objects.filter(summary=summary).exists():
            raise InvalidState(_("This summary version has already been reviewed."))
        decision = SummaryReview.Decision.APPROVED if approve else SummaryReview.Decision.RETURNED
        review = SummaryReview.objects.create(
            summary=summary, decision=decision, comment=comment.strip(), reviewer=actor, **checklist
        )
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction(f"summary_{decision}"),
            data={"version": summary.version, "comment": review.comment, "checklist": checklist},
        )
    return review


def summary_rewrite(
    *,
    actor: User,
    case: Case,
    problem_description: str,
    analysis: str,
    resolution: str,
    resolution_type: str,
) -> CaseSummary:
    """Write a new version of a closed case's summary after a manager returned it; the history keeps both."""
    if not can_work_cases(actor):
        raise NotAllowed(_("Only support engineers and managers can do this."))
    if resolution_type not in ResolutionType.values:
        raise InvalidInput(_("Choose a resolution type."))
    if not (problem_description.strip() and analysis.strip() and resolution.strip()):
        raise InvalidInput(_("A summary needs a problem description, an analysis and a resolution."))
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        latest = case.summaries.select_related("review").first()
        if case.state != State.CLOSED or latest is None:
            raise InvalidState(_("Only the summary of a closed case can be rewritten here."))
        review = getattr(latest, "review", None)
        if review is None or review.decision != SummaryReview.Decision.RETURNED:
            raise InvalidState(_("The summary can be rewritten once a manager has returned it."))
        summary = summary_version_add(
            actor=actor,
            case=case,
            problem_description=problem_description,
            analysis=analysis,
            resolution=resolution,
            resolution_type=resolution_type,
        )
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.SUMMARY_REWRITTEN,
            data={"version": summary.version, "resolution_type": resolution_type},
        )
    return summary


# -- settings ---------------------------------------------------------------------------------------------


def _validated(instance: ServiceTarget | BusinessCalendar) -> None:
    try:
        instance.full_clean()
    except ValidationError as error:
        raise InvalidInput(
            " ".join(message for messages in error.message_dict.values() for message in messages)
        ) from error


def _require_service_level_manager(actor: User) -> None:
    if not can_manage_service_levels(actor):
        raise NotAllowed(_("Only managers can do this."))


def service_target_save(*, actor: User, target: ServiceTarget) -> ServiceTarget:
    """Save a severity's targets after model validation (no zero target)."""
    _require_service_level_manager(actor)
    _validated(target)
    with transaction.atomic():
        target.save()
        audit_record(
            case=None, actor=actor, action=AuditAction.SERVICE_TARGET_SAVED, data={"target": str(target)}
        )
    return target


def business_calendar_save(
    *, actor: User, calendar: BusinessCalendar, holidays: list[tuple[date, str]] | None = None
) -> BusinessCalendar:
    """Save a calendar after model validation (working days and hours required); replace its holidays."""
    _require_service_level_manager(actor)
    _validated(calendar)
    with transaction.atomic():
        calendar.save()
        if holidays is not None:
            calendar.holidays.all().delete()
            Holiday.objects.bulk_create(
                Holiday(calendar=calendar, date=day, name=name) for day, name in holidays
            )
        audit_record(
            case=None, actor=actor, action=AuditAction.CALENDAR_SAVED, data={"calendar": calendar.name}
        )
    return calendar
