"""The shared steps of every case write: role and state checks, the row lock, state changes (recorded
through ``cases.audit.audit_record``, which notifies people after the commit and raises the case's live
version) and the timeline records of lifecycle events. Used by ``cases.services`` and ``cases.conversation``; callers own the
transaction.
"""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.capabilities import can_work_cases
from accounts.models import User
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidState, NotAllowed
from cases.models import AuditEvent, Case, CaseSummary, State, TimelineEntry
from cases.selectors import case_visible_to


def require_case_worker(actor: User) -> None:
    if not can_work_cases(actor):
        raise NotAllowed(_("Only support engineers and managers can do this."))


def require_visible(actor: User, case: Case) -> None:
    # Services are also called from admin and commands: check visibility here too, not only in views.
    if not case_visible_to(user=actor, case_id=case.pk):
        raise NotAllowed(_("You cannot act on this case."))


def require_state(case: Case, allowed: frozenset[str] | set[str], action: str) -> None:
    if case.state not in allowed:
        raise InvalidState(
            _("%(action)s is not possible while the case is %(state)s.")
            % {"action": action, "state": case.get_state_display()}
        )


def locked(case: Case) -> Case:
    """Re-read the case under a row lock so two actions on one case run one after the other."""
    return Case.objects.select_for_update().get(pk=case.pk)


def set_state(
    case: Case,
    to_state: str,
    *,
    actor: User | None,
    action: AuditAction,
    data: dict[str, object] | None = None,
) -> AuditEvent:
    """Move the case and record it as one customer-visible event named after the action."""
    from_state = case.state
    case.state = to_state
    fields = ["state", "updated_at"]
    if to_state == State.CLOSED:
        case.closed_at = timezone.now()
        fields.append("closed_at")
    elif from_state == State.CLOSED:
        case.closed_at = None
        fields.append("closed_at")
    case.save(update_fields=fields)
    return audit_record(
        case=case,
        actor=actor,
        action=action,
        from_state=from_state,
        to_state=to_state,
        customer_visible=True,
        data=data,
    )


def customer_answered(case: Case, actor: User | None) -> tuple[str, str]:
    """A customer's message, upload or answer while the case waits on them hands it back to the engineer
    (the service-level clocks resume). Returns the (from, to) states for the action's own audit event, so
    one event tells both; ``("", "")`` when the state stays. The caller holds the case row lock."""
    if actor is None or not actor.is_customer or case.state != State.AWAITING_CUSTOMER:
        return "", ""
    case.state = State.INVESTIGATING
    case.save(update_fields=["state", "updated_at"])
    return State.AWAITING_CUSTOMER, State.INVESTIGATING


def follow(case: Case, user: User | None) -> None:
    """A customer who takes part in a case hears about it from then on (staff follow by choice)."""
    if user is not None and user.is_customer and user.pk != case.customer_contact_id:
        case.followers.add(user)


def mark_first_response(case: Case, actor: User) -> None:
    if case.first_response_at is None and actor.is_support_staff:
        case.first_response_at = timezone.now()
        case.save(update_fields=["first_response_at", "updated_at"])


def timeline_record(
    case: Case, event: AuditEvent, *, body: str = "", kind: str = TimelineEntry.Kind.SYSTEM
) -> TimelineEntry:
    """The customer-visible timeline entry of a lifecycle event: its headline is written from the event in
    the reader's language; ``body`` holds the person's own words (a comment, a reason, a proposal)."""
    return TimelineEntry.objects.create(
        case=case, kind=kind, internal=False, body=body, author=event.actor, event=event
    )


def summary_version_add(
    *,
    actor: User | None,
    case: Case,
    problem_description: str,
    analysis: str,
    resolution: str,
    resolution_type: str,
) -> CaseSummary:
    """The next version of the case's summary. Callers validate, and hold the case row lock so two
    writers cannot take the same version number."""
    latest = case.summaries.order_by("-version").first()
    return CaseSummary.objects.create(
        case=case,
        version=(latest.version + 1) if latest else 1,
        problem_description=problem_description,
        analysis=analysis,
        resolution=resolution,
        resolution_type=resolution_type,
        author=actor,
    )
