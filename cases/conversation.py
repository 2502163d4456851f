"""The customer's side of the lifecycle, run as a conversation (DESIGN.md, "Case lifecycle").

The engineer sends the scope and the customer accepts it (the investigation starts) or objects (back to
scoping); the engineer proposes a resolution and the customer confirms it (the engineer closes) or rejects
it (back to investigating); a proposal left unanswered for ``RESOLUTION_RESPONSE_DAYS`` business days
closes the case as ``no_response``, after a reminder. Every step is one audit event, which tells the other
side (``communications.notifications``), and one timeline entry.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, InvalidState, NotAllowed
from cases.models import (
    OPEN_STATES,
    AuditEvent,
    Case,
    ResolutionProposal,
    ResolutionType,
    ScopeAcknowledgement,
    State,
    TimelineEntry,
)
from cases.records import (
    follow,
    locked,
    mark_first_response,
    require_case_worker,
    require_state,
    require_visible,
    set_state,
    summary_version_add,
    timeline_record,
)
from oversight.clocks import Calendar
from oversight.selectors import sla_config_load

logger = logging.getLogger(__name__)


def _when(value: datetime) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i")


# -- scope ------------------------------------------------------------------------------------------------


def scope_send(*, actor: User, case: Case, document_id: int | None = None) -> AuditEvent:
    """Send the current scope version: it stops being a draft, a case still being scoped waits on the
    customer, and the customer contacts receive it (as the scope message ``document_id`` when the engineer
    wrote one). Returns the event, which the scope message's timeline entry records."""
    require_case_worker(actor)
    with transaction.atomic():
        case = locked(case)
        require_state(case, OPEN_STATES, _("Sending the scope"))
        scope = case.scope_versions.first()
        if scope is None:
            raise InvalidState(_("Write the scope before sending it."))
        now = timezone.now()
        if scope.sent_at is None:
            scope.sent_at = now
            scope.save(update_fields=["sent_at"])
        if case.scoped_at is None:
            case.scoped_at = now
            case.save(update_fields=["scoped_at", "updated_at"])
        mark_first_response(case, actor)
        data: dict[str, object] = {"version": scope.version, "document": document_id}
        if case.state in {State.NEW, State.SCOPING}:
            event = set_state(
                case, State.AWAITING_CUSTOMER, actor=actor, action=AuditAction.SEND_SCOPE, data=data
            )
        else:  # a revised scope during the investigation: the customer reads and answers it again
            event = audit_record(
                case=case, actor=actor, action=AuditAction.SEND_SCOPE, customer_visible=True, data=data
            )
        if document_id is None:
            timeline_record(case, event)
    return event


def scope_acknowledge(*, actor: User, case: Case, accepted: bool, comment: str = "") -> ScopeAcknowledgement:
    """The customer accepts the latest sent scope version (a case waiting on them moves to investigating)
    or objects to it with a comment (the case goes back to scoping). A version is answered once."""
    if not actor.is_customer:
        raise NotAllowed(_("Only the customer can accept or object to the scope."))
    require_visible(actor, case)
    if not accepted and not comment.strip():
        raise InvalidInput(_("Please say what you object to."))
    with transaction.atomic():
        case = locked(case)
        require_state(case, OPEN_STATES, _("Answering the scope"))
        scope = case.scope_versions.filter(sent_at__isnull=False).first()
        if scope is None:
            raise InvalidState(_("The engineer has not sent a scope yet."))
        earlier = scope.acknowledgements.select_related("author").first()
        if earlier is not None:
            raise InvalidState(
                _("Scope v%(version)s was already answered by %(who)s on %(when)s.")
                % {"version": scope.version, "who": earlier.author or "—", "when": _when(earlier.created_at)}
            )
        decision = (
            ScopeAcknowledgement.Decision.ACCEPTED if accepted else ScopeAcknowledgement.Decision.OBJECTED
        )
        acknowledgement = ScopeAcknowledgement.objects.create(
            scope_version=scope, decision=decision, comment=comment.strip(), author=actor
        )
        action = AuditAction.SCOPE_ACCEPTED if accepted else AuditAction.SCOPE_OBJECTED
        data = {"version": scope.version, "comment": comment.strip()}
        if accepted and case.state == State.AWAITING_CUSTOMER:
            event = set_state(case, State.INVESTIGATING, actor=actor, action=action, data=data)
        elif not accepted and case.state != State.SCOPING:
            event = set_state(case, State.SCOPING, actor=actor, action=action, data=data)
        else:
            event = audit_record(case=case, actor=actor, action=action, customer_visible=True, data=data)
        timeline_record(case, event, body=comment.strip())
        follow(case, actor)
    return acknowledgement


# -- the proposed resolution --------------------------------------------------------------------------------


def resolution_propose(*, actor: User, case: Case, text: str) -> ResolutionProposal:
    """Propose a resolution: the case waits on the customer's confirmation, who is told with the text."""
    require_case_worker(actor)
    if not text.strip():
        raise InvalidInput(_("Describe the proposed resolution."))
    with transaction.atomic():
        case = locked(case)
        require_state(case, {State.INVESTIGATING}, _("Proposing a resolution"))
        proposal = ResolutionProposal.objects.create(case=case, text=text.strip(), proposed_by=actor)
        event = set_state(
            case,
            State.PENDING_CONFIRMATION,
            actor=actor,
            action=AuditAction.PROPOSE_RESOLUTION,
            data={"proposal": proposal.pk, "message": proposal.text},
        )
        timeline_record(case, event, body=proposal.text, kind=TimelineEntry.Kind.MESSAGE)
        mark_first_response(case, actor)
    return proposal


def resolution_withdraw(*, case: Case) -> ResolutionProposal | None:
    """The engineer takes the case back before the customer answered: the pending proposal no longer
    asks anything. The caller holds the case row lock and records the state change."""
    proposal = case.resolution_proposals.filter(answer="", withdrawn_at__isnull=True).first()
    if proposal is not None:
        proposal.withdrawn_at = timezone.now()
        proposal.save(update_fields=["withdrawn_at"])
    return proposal


def resolution_answer(*, actor: User, case: Case, accepted: bool, comment: str = "") -> ResolutionProposal:
    """The customer confirms the proposed resolution (the engineer is told and closes the case) or rejects
    it with a comment (the case goes back to investigating). One answer counts: a second is refused."""
    if not actor.is_customer:
        raise NotAllowed(_("Only the customer can confirm or reject the proposed resolution."))
    require_visible(actor, case)
    if not accepted and not comment.strip():
        raise InvalidInput(_("Please say why the proposed resolution does not solve the problem."))
    with transaction.atomic():
        case = locked(case)
        proposal = case.resolution_proposals.select_related("answered_by").first()
        if proposal is not None and proposal.answer:
            raise InvalidState(
                _("This proposal was already answered (%(answer)s) by %(who)s on %(when)s.")
                % {
                    "answer": proposal.get_answer_display(),
                    "who": proposal.answered_by or "—",
                    "when": _when(proposal.answered_at or proposal.proposed_at),
                }
            )
        if proposal is None or not proposal.pending or case.state != State.PENDING_CONFIRMATION:
            raise InvalidState(_("There is no proposed resolution waiting for an answer."))
        proposal.answer = (
            ResolutionProposal.Answer.ACCEPTED if accepted else ResolutionProposal.Answer.REJECTED
        )
        proposal.answered_by = actor
        proposal.answered_at = timezone.now()
        proposal.comment = comment.strip()
        proposal.save(update_fields=["answer", "answered_by", "answered_at", "comment"])
        data = {"proposal": proposal.pk, "comment": proposal.comment}
        if accepted:
            event = audit_record(
                case=case,
                actor=actor,
                action=AuditAction.RESOLUTION_ACCEPTED,
                customer_visible=True,
                data=data,
            )
        else:
            event = set_state(
                case, State.INVESTIGATING, actor=actor, action=AuditAction.RESOLUTION_REJECTED, data=data
            )
        timeline_record(case, event, body=proposal.comment)
        follow(case, actor)
    return proposal


# -- no answer: reminder, then closing as "no response" ------------------------------------------------------

# When an organisation has no business calendar: Monday to Friday, in the site's time zone.
DEFAULT_CALENDAR = Calendar(
    time_zone=settings.TIME_ZONE, working_days=frozenset(range(5)), day_start=time(9), day_end=time(17)
)


@dataclass(frozen=True)
class ResolutionDeadlines:
    remind_at: datetime
    close_at: datetime


def resolution_deadlines(
    *, proposal: ResolutionProposal, calendar: Calendar | None = None
) -> ResolutionDeadlines:
    """When the customer is reminded and when the case closes unanswered, in the organisation's business
    days (``RESOLUTION_RESPONSE_DAYS``, reminder ``RESOLUTION_REMINDER_DAYS`` before)."""
    if calendar is None:
        calendar = sla_config_load().calendar_for(proposal.case.organisation_id) or DEFAULT_CALENDAR
    days = settings.RESOLUTION_RESPONSE_DAYS
    before = min(settings.RESOLUTION_REMINDER_DAYS, days - 1)
    return ResolutionDeadlines(
        remind_at=calendar.add_working_days(proposal.proposed_at, days - before),
        close_at=calendar.add_working_days(proposal.proposed_at, days),
    )


@dataclass(frozen=True)
class SweepResult:
    reminded: int
    closed: int


def resolutions_sweep(*, now: datetime | None = None) -> SweepResult:
    """Remind the customers of proposals nearing their deadline and close the cases whose deadline passed
    (beat, hourly). Each case in its own short transaction, re-checked under its lock."""
    now = now or timezone.now()
    config = sla_config_load()
    pending = ResolutionProposal.objects.filter(
        answer="", withdrawn_at__isnull=True, case__state=State.PENDING_CONFIRMATION
    ).select_related("case")
    reminded = closed = 0
    for proposal in pending:
        calendar = config.calendar_for(proposal.case.organisation_id) or DEFAULT_CALENDAR
        deadlines = resolution_deadlines(proposal=proposal, calendar=calendar)
        if now >= deadlines.close_at:
            closed += resolution_close_unanswered(proposal_id=proposal.pk)
        elif now >= deadlines.remind_at and proposal.reminded_at is None:
            reminded += resolution_remind(proposal_id=proposal.pk, close_at=deadlines.close_at)
    return SweepResult(reminded=reminded, closed=closed)


def _pending_locked(proposal_id: int) -> tuple[Case, ResolutionProposal] | None:
    proposal = ResolutionProposal.objects.filter(pk=proposal_id).first()
    if proposal is None:
        return None
    case = Case.objects.select_for_update().get(pk=proposal.case_id)
    proposal.refresh_from_db()
    if not proposal.pending or case.state != State.PENDING_CONFIRMATION:
        return None  # answered or withdrawn since the sweep read it
    return case, proposal


def resolution_remind(*, proposal_id: int, close_at: datetime) -> bool:
    """Remind the customer once that the proposal waits for them, and when the case closes without it."""
    with transaction.atomic():
        found = _pending_locked(proposal_id)
        if found is None or found[1].reminded_at is not None:
            return False
        case, proposal = found
        proposal.reminded_at = timezone.now()
        proposal.save(update_fields=["reminded_at"])
        audit_record(
            case=case,
            actor=None,
            action=AuditAction.RESOLUTION_REMINDER,
            customer_visible=True,
            data={"proposal": proposal.pk, "close_at": close_at.isoformat()},
        )
    return True


def resolution_close_unanswered(*, proposal_id: int) -> bool:
    """Close the case as ``no_response``: the summary says what was proposed and that no answer came, in
    the customer contact's language; both sides are told."""
    with transaction.atomic():
        found = _pending_locked(proposal_id)
        if found is None:
            return False
        case, proposal = found
        scope = case.scope_versions.filter(sent_at__isnull=False).first()
        contact = case.customer_contact
        with translation.override((contact.language if contact else "") or settings.LANGUAGE_CODE):
            analysis = _(
                "A resolution was proposed on %(date)s; the customer did not answer within %(days)s "
                "business days, so the case was closed as “no response”."
            ) % {"date": _when(proposal.proposed_at), "days": settings.RESOLUTION_RESPONSE_DAYS}
        summary = summary_version_add(
            actor=None,
            case=case,
            problem_description=(scope.problem_definition if scope else "") or case.description or case.title,
            analysis=analysis,
            resolution=proposal.text,
            resolution_type=ResolutionType.NO_RESPONSE,
        )
        event = set_state(
            case,
            State.CLOSED,
            actor=None,
            action=AuditAction.CLOSE,
            data={
                "resolution_type": ResolutionType.NO_RESPONSE,
                "summary_version": summary.version,
                "proposal": proposal.pk,
            },
        )
        timeline_record(case, event)
    logger.info("case %s closed as no response to proposal %s", case.number, proposal.pk)
    return True
