"""Every change to a case goes through one function here or in ``cases.conversation`` (the customer's
side of the lifecycle: scope sent and answered, resolution proposed and answered). STYLE.md rules 2 and 4.

Each function checks the actor's role and the case's state, writes in one transaction, records an audit
event (``cases.audit.audit_record``), and queues notifications after the commit.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from accounts.capabilities import can_act_for_vendor, can_work_cases
from accounts.models import Organisation, User
from cases import conversation
from cases.audit import AuditAction, audit_record
from cases.errors import InvalidInput, InvalidState, NotAllowed
from cases.models import (
    OPEN_STATES,
    Case,
    CaseNumberCounter,
    CaseSummary,
    ResolutionProposal,
    ResolutionType,
    ScopeVersion,
    Severity,
    State,
    TimelineEntry,
)
from cases.records import (
    customer_answered,
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

CASE_NUMBER_PREFIX = "CAS"
_SUFFIX_ALPHABET = string.ascii_uppercase + string.digits


# -- creation and assignment ------------------------------------------------------------------------------


def case_number_next() -> str:
    """A new ``CAS-NNNNN-XXXXXX`` number: a locked counter for the digits, a random suffix for the rest."""
    CaseNumberCounter.objects.get_or_create(prefix=CASE_NUMBER_PREFIX)
    with transaction.atomic():
        counter = CaseNumberCounter.objects.select_for_update().get(prefix=CASE_NUMBER_PREFIX)
        counter.value += 1
        counter.save(update_fields=["value"])
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(6))
    return f"{CASE_NUMBER_PREFIX}-{counter.value % 100_000:05d}-{suffix}"


def case_create(
    *,
    actor: User,
    organisation: Organisation,
    title: str,
    description: str = "",
    severity: str = Severity.MEDIUM,
    product: str = "",
    external_reference: str = "",
    customer_contact: User | None = None,
    owner: User | None = None,
    parent: Case | None = None,
) -> Case:
    """Open a case in state ``new``. Engineers and managers for any organisation, account managers for
    the organisations they look after."""
    if actor.is_account_manager:
        if not organisation.account_managers.filter(pk=actor.pk).exists():
            raise NotAllowed(_("You can open cases only for the organisations you look after."))
    else:
        require_case_worker(actor)
    if not title.strip():
        raise InvalidInput(_("A case needs a title."))
    if severity not in Severity.values:
        raise InvalidInput(_("Unknown severity."))
    if customer_contact is not None and customer_contact.organisation_id != organisation.pk:
        raise InvalidInput(_("The customer contact must belong to the case's organisation."))
    if owner is not None and not can_work_cases(owner):
        raise InvalidInput(_("Cases can be assigned to engineers and managers only."))
    with transaction.atomic():
        case = Case.objects.create(
            number=case_number_next(),
            title=title.strip(),
            description=description,
            organisation=organisation,
            customer_contact=customer_contact,
            owner=owner,
            severity=severity,
            product=product,
            external_reference=external_reference,
            parent=parent,
            opened_by=actor,
        )
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.CASE_OPENED,
            to_state=case.state,
            customer_visible=True,
            data={"owner": owner.username if owner else None, "parent": parent.number if parent else None},
        )
    return case


def case_open_for_customer(*, customer: User, title: str, description: str = "", via: str = "") -> Case:
    """A customer asks for help on their own (by e-mail: ``via="email"``): a case of their organisation in
    state ``new``, with them as its contact and no owner yet (staff take it from the unassigned list)."""
    if not customer.is_active or not customer.is_customer or customer.organisation_id is None:
        raise NotAllowed(_("Only customers of an organisation can open a case this way."))
    title = " ".join(title.split())[:200]
    if not title:
        raise InvalidInput(_("A case needs a title."))
    with transaction.atomic():
        case = Case.objects.create(
            number=case_number_next(),
            title=title,
            description=description,
            organisation_id=customer.organisation_id,
            customer_contact=customer,
            opened_by=customer,
        )
        data: dict[str, object] = {"owner": None, "parent": None}
        if via:
            data["via"] = via
        audit_record(
            case=case,
            actor=customer,
            action=AuditAction.CASE_OPENED,
            to_state=case.state,
            customer_visible=True,
            data=data,
        )
    return case


def case_update(*, actor: User, case: Case, **fields: str) -> Case:
    """Edit the descriptive fields of an open case (title, description, severity, product, reference)."""
    require_case_worker(actor)
    editable = {"title", "description", "severity", "product", "external_reference"}
    unknown = set(fields) - editable
    if unknown:
        raise InvalidInput(_("These fields cannot be changed here: %s") % ", ".join(sorted(unknown)))
    if "severity" in fields and fields["severity"] not in Severity.values:
        raise InvalidInput(_("Unknown severity."))
    if "title" in fields and not fields["title"].strip():
        raise InvalidInput(_("A case needs a title."))
    with transaction.atomic():
        case = locked(case)
        require_state(case, OPEN_STATES, _("Editing"))
        changes = {
            name: [getattr(case, name), value]
            for name, value in fields.items()
            if getattr(case, name) != value
        }
        for name, (_old, value) in changes.items():
            setattr(case, name, value)
        if changes:
            case.save(update_fields=[*changes, "updated_at"])
            audit_record(case=case, actor=actor, action=AuditAction.CASE_UPDATED, data={"changes": changes})
    return case


def case_assign(*, actor: User, case: Case, owner: User, reason: str = "") -> Case:
    """Assign or reassign the case; taking it from another engineer needs a reason."""
    require_case_worker(actor)
    if not can_work_cases(owner):
        raise InvalidInput(_("Cases can be assigned to engineers and managers only."))
    with transaction.atomic():
        case = locked(case)
        require_state(case, OPEN_STATES, _("Assigning"))
        previous = case.owner
        if previous == owner:
            raise InvalidInput(_("The case is already assigned to %s.") % owner)
        if previous is not None and not reason.strip():
            raise InvalidInput(_("Reassigning a case needs a reason."))
        case.owner = owner
        case.save(update_fields=["owner", "updated_at"])
        # Customer-visible: the customer is told who handles their case now (the reason stays with staff).
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.CASE_REASSIGNED if previous else AuditAction.CASE_ASSIGNED,
            customer_visible=True,
            data={"from": previous.username if previous else None, "to": owner.username, "reason": reason},
        )
    return case


# -- scope ------------------------------------------------------------------------------------------------


def scope_save(
    *, actor: User, case: Case, problem_definition: str, scope: str, next_steps: str
) -> ScopeVersion:
    """Write a new version of the scope. A new case moves to ``scoping``."""
    require_case_worker(actor)
    if not (problem_definition.strip() and scope.strip() and next_steps.strip()):
        raise InvalidInput(
            _("The scope needs a problem definition, a scope with closure criteria and next steps.")
        )
    with transaction.atomic():
        case = locked(case)
        require_state(case, OPEN_STATES, _("Editing the scope"))
        latest = case.scope_versions.first()
        version = ScopeVersion.objects.create(
            case=case,
            version=(latest.version + 1) if latest else 1,
            problem_definition=problem_definition,
            scope=scope,
            next_steps=next_steps,
            author=actor,
        )
        audit_record(
            case=case, actor=actor, action=AuditAction.SCOPE_SAVED, data={"version": version.version}
        )
        if case.state == State.NEW:
            set_state(case, State.SCOPING, actor=actor, action=AuditAction.SCOPING_STARTED)
    return version


# -- timeline ---------------------------------------------------------------------------------------------


def timeline_add(
    *, actor: User, case: Case, body: str, internal: bool = False, via: str = ""
) -> TimelineEntry:
    """Add a message (customer-visible) or an internal note (staff only) to the case. A customer's message
    while the case awaits them hands it back to the engineer; a closed case takes messages from staff only.
    ``via="email"`` marks a reply that came by e-mail (inbound/)."""
    if not body.strip():
        raise InvalidInput(_("The message is empty."))
    if internal and not can_act_for_vendor(actor):
        raise NotAllowed(_("Only support staff can write internal notes."))
    require_visible(actor, case)
    with transaction.atomic():
        case = locked(case)
        if not case.is_open and not can_act_for_vendor(actor):
            raise InvalidState(closed_case_message())
        entry = TimelineEntry.objects.create(
            case=case,
            kind=TimelineEntry.Kind.NOTE if internal else TimelineEntry.Kind.MESSAGE,
            internal=internal,
            body=body,
            author=actor,
            via=via,
        )
        from_state, to_state = ("", "") if internal else customer_answered(case, actor)
        if not internal:
            mark_first_response(case, actor)
            follow(case, actor)
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.NOTE_ADDED if internal else AuditAction.MESSAGE_ADDED,
            from_state=from_state,
            to_state=to_state,
            customer_visible=not internal,
            data={"entry": entry.pk, "via": via} if via else {"entry": entry.pk},
        )
    return entry


def closed_case_message() -> str:
    return _(
        "This case is closed and takes no more messages. If the problem is back, ask your engineer or "
        "account manager to reopen it, or to open a new case."
    )


# -- transitions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    name: str
    label: str
    sources: frozenset[str]
    target: str
    # What the engineer must write, shown to the customer with the change ("" = nothing needed).
    message_needed: str = ""


TRANSITIONS: dict[str, Transition] = {
    t.name: t
    for t in (
        Transition("start_scoping", gettext_noop("Start scoping"), frozenset({State.NEW}), State.SCOPING),
        Transition(
            "send_scope",
            gettext_noop("Send scope"),
            frozenset({State.NEW, State.SCOPING}),
            State.AWAITING_CUSTOMER,
        ),
        Transition(
            "start_investigation",
            gettext_noop("Start investigation"),
            frozenset({State.SCOPING, State.AWAITING_CUSTOMER}),
            State.INVESTIGATING,
        ),
        Transition(
            "request_customer",
            gettext_noop("Ask the customer"),
            frozenset({State.INVESTIGATING}),
            State.AWAITING_CUSTOMER,
            gettext_noop("Say what you need from the customer."),
        ),
        Transition(
            "propose_resolution",
            gettext_noop("Propose resolution"),
            frozenset({State.INVESTIGATING}),
            State.PENDING_CONFIRMATION,
            gettext_noop("Describe the proposed resolution."),
        ),
        Transition(
            "resume_investigation",
            gettext_noop("Resume investigation"),
            frozenset({State.PENDING_CONFIRMATION}),
            State.INVESTIGATING,
        ),
        Transition("close", gettext_noop("Close"), OPEN_STATES, State.CLOSED),
        Transition(
            "reopen",
            gettext_noop("Reopen"),
            frozenset({State.CLOSED}),
            State.INVESTIGATING,
            gettext_noop("Say why the case is reopened."),
        ),
    )
}


def transitions_allowed(*, actor: User, case: Case) -> list[Transition]:
    """The transitions this actor may take from the case's state, for showing only allowed actions."""
    if not can_work_cases(actor):
        return []
    return [t for t in TRANSITIONS.values() if case.state in t.sources]


def case_transition(*, actor: User, case: Case, name: str, message: str = "") -> Case:
    """Move the case along the lifecycle; ``close`` and ``split`` have their own services, sending the scope
    and proposing a resolution theirs in ``cases.conversation``. ``message`` reaches the customer with the
    change (required where the transition says so)."""
    if name == "close":
        raise InvalidInput(_("Closing needs a summary: use the close form."))
    transition = TRANSITIONS.get(name)
    if transition is None:
        raise InvalidInput(_("Unknown action: %s") % name)
    require_case_worker(actor)
    if transition.message_needed and not message.strip():
        raise InvalidInput(_(transition.message_needed))
    if name == "send_scope":
        conversation.scope_send(actor=actor, case=case)
        return Case.objects.get(pk=case.pk)
    if name == "propose_resolution":
        return conversation.resolution_propose(actor=actor, case=case, text=message).case
    with transaction.atomic():
        case = locked(case)
        require_state(case, transition.sources, _(transition.label))
        if name == "resume_investigation":
            conversation.resolution_withdraw(case=case)
        event = set_state(
            case,
            transition.target,
            actor=actor,
            action=AuditAction(name),
            data={"message": message} if message else None,
        )
        if message.strip():
            timeline_record(case, event, body=message, kind=TimelineEntry.Kind.MESSAGE)
            mark_first_response(case, actor)
    return case


def case_close(
    *,
    actor: User,
    case: Case,
    problem_description: str,
    analysis: str,
    resolution: str,
    resolution_type: str,
) -> CaseSummary:
    """Close an open case with its summary (problem, analysis, resolution) and a resolution type. A
    resolution the customer confirmed is the summary's resolution when none is written."""
    require_case_worker(actor)
    if resolution_type not in ResolutionType.values:
        raise InvalidInput(_("Choose a resolution type."))
    with transaction.atomic():
        case = locked(case)
        require_state(case, OPEN_STATES, _("Closing"))
        if not resolution.strip():
            confirmed = case.resolution_proposals.filter(answer=ResolutionProposal.Answer.ACCEPTED).first()
            resolution = confirmed.text if confirmed is not None else ""
        if not (problem_description.strip() and analysis.strip() and resolution.strip()):
            raise InvalidInput(_("Closing needs a summary: problem description, analysis and resolution."))
        if resolution_type == ResolutionType.SPLIT and not case.children.exists():
            raise InvalidState(_("Split the case into new cases before closing it as split."))
        summary = summary_version_add(
            actor=actor,
            case=case,
            problem_description=problem_description,
            analysis=analysis,
            resolution=resolution,
            resolution_type=resolution_type,
        )
        event = set_state(
            case,
            State.CLOSED,
            actor=actor,
            action=AuditAction.CLOSE,
            data={"resolution_type": resolution_type, "summary_version": summary.version},
        )
        timeline_record(case, event)
    return summary


def case_split(*, actor: User, case: Case, title: str, description: str = "") -> Case:
    """Open a child case for a separate problem found in this one (scope rule: one problem per case)."""
    require_case_worker(actor)
    require_state(case, OPEN_STATES, _("Splitting"))
    with transaction.atomic():
        child = case_create(
            actor=actor,
            organisation=case.organisation,
            title=title,
            description=description,
            severity=case.severity,
            product=case.product,
            external_reference=case.external_reference,
            customer_contact=case.customer_contact,
            owner=case.owner,
            parent=case,
        )
        audit_record(
            case=case,
            actor=actor,
            action=AuditAction.CASE_SPLIT,
            customer_visible=True,
            data={"child": child.number},
        )
    return child


ACTIONS = frozenset({*TRANSITIONS, "assign", "split"})


def case_act(*, actor: User, case: Case, name: str, data: dict[str, str]) -> Case:
    """One entry point for the actions named in ``/api/cases/<number>/<action>/`` and the case page."""
    if name == "close":
        case_close(
            actor=actor,
            case=case,
            problem_description=data.get("problem_description", ""),
            analysis=data.get("analysis", ""),
            resolution=data.get("resolution", ""),
            resolution_type=data.get("resolution_type", ""),
        )
    elif name == "assign":
        owner = User.objects.filter(username=data.get("owner", ""), is_active=True).first()
        if owner is None:
            raise InvalidInput(_("No such user to assign the case to."))
        case_assign(actor=actor, case=case, owner=owner, reason=data.get("reason", ""))
    elif name == "split":
        return case_split(
            actor=actor, case=case, title=data.get("title", ""), description=data.get("description", "")
        )
    else:
        case_transition(actor=actor, case=case, name=name, message=data.get("message", ""))
    case.refresh_from_db()
    return case
