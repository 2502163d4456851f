"""Reads, and the one place where who may see which case is decided (views, API and downloads)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.capabilities import can_see_internal, can_work_cases
from accounts.models import Organisation, User
from cases.audit import AuditAction
from cases.models import (
    AuditEvent,
    Case,
    ResolutionProposal,
    ScopeAcknowledgement,
    ScopeVersion,
    State,
    TimelineEntry,
)
from cases.search import case_search
from config.prepared import PreparedLookup


def case_visible_queryset(user: User) -> QuerySet[Case]:
    """Every case the user may see: customers their organisation's, account managers the organisations
    they look after, engineers and managers all."""
    cases = Case.objects.all()
    if can_work_cases(user):
        return cases
    if not user.is_authenticated or not user.is_active:
        return cases.none()
    if user.role == User.Role.ACCOUNT_MANAGER:
        return cases.filter(organisation__account_managers=user)
    if user.organisation_id is None:
        return cases.none()
    return cases.filter(organisation_id=user.organisation_id)


def _organisation_cases_visible(user: User, *, organisation_id: int) -> bool:
    """``case_visible_queryset``'s rule for the cases of one organisation, for a read that has the
    organisation already (tests/cases/test_visibility.py holds the two to the same answers)."""
    if can_work_cases(user):
        return True
    if not user.is_authenticated or not user.is_active:
        return False
    if user.role == User.Role.ACCOUNT_MANAGER:
        return Organisation.account_managers.through.objects.filter(
            organisation_id=organisation_id, user_id=user.pk
        ).exists()
    return user.organisation_id is not None and user.organisation_id == organisation_id


def case_visible_to(*, user: User, case_id: int) -> bool:
    """Whether the user may see (and so act on) this case: services check it, not only views."""
    return case_visible_queryset(user).filter(pk=case_id).exists()


def case_get_for_user(*, user: User, number: str, for_update: bool = False) -> Case:
    """The case with this number if the user may see it; 404 otherwise, never a hint that it exists."""
    cases = case_visible_queryset(user).select_related("organisation", "owner", "customer_contact", "parent")
    if for_update:
        cases = cases.select_for_update(of=("self",))
    try:
        return cases.get(number=number)
    except Case.DoesNotExist:
        raise Http404("No such case.") from None


def case_for_page(*, user: User, number: str) -> Case:
    """The case of its page, if the user may see it (404 otherwise): its own row, with whether this user
    follows it, and nothing joined. A page served from the cache reads nothing else of it (the joins cost
    more to build than the query takes); a section rendered afresh loads the organisation, owner or
    contact it shows."""
    follows = Case.followers.through.objects.filter(case_id=OuterRef("pk"), user_id=user.pk)
    case = case_visible_queryset(user).annotate(following=Exists(follows)).filter(number=number).first()
    if case is None:
        raise Http404("No such case.")
    return case


def case_list_for_user(
    *,
    user: User,
    view: str = "",
    state: str = "",
    organisation: str = "",
    severity: str = "",
    search: str = "",
) -> QuerySet[Case]:
    """The case list of one role, filtered; related rows joined so a page costs a fixed number of queries."""
    cases = case_visible_queryset(user).select_related("organisation", "owner")
    if view == "mine":
        cases = cases.filter(owner=user)
    elif view == "unassigned":
        cases = cases.filter(owner__isnull=True)
    elif view == "open":
        cases = cases.exclude(state="closed")
    if state:
        cases = cases.filter(state=state)
    if organisation:
        cases = cases.filter(organisation__slug=organisation)
    if severity:
        cases = cases.filter(severity=severity)
    if search.strip():
        return case_search(user=user, query=search, cases=cases)  # ranked, best first
    return cases.order_by("-opened_at", "-id")


def case_timeline_for_user(*, user: User, case: Case) -> QuerySet[TimelineEntry]:
    """Timeline entries, oldest first, with what each one shows (its document, its event's actor);
    customers never see internal notes."""
    entries = case.timeline.select_related("author", "document", "event__actor")
    if not can_see_internal(user):
        entries = entries.filter(internal=False)
    return entries


def case_current_scope(*, case: Case) -> ScopeVersion | None:
    """The newest scope version, draft or sent (staff, and the documents drafted from it)."""
    return case.scope_versions.select_related("author").prefetch_related("acknowledgements__author").first()


def case_scope_versions_for_user(*, user: User, case: Case) -> QuerySet[ScopeVersion]:
    """Scope versions newest first as this user may read them: customers never see a draft."""
    versions = case.scope_versions.select_related("author").prefetch_related("acknowledgements__author")
    if not can_see_internal(user):
        versions = versions.filter(sent_at__isnull=False)
    return versions


def case_scope_for_user(*, user: User, case: Case) -> ScopeVersion | None:
    """The scope version the case page shows this user: the newest one they may read."""
    return case_scope_versions_for_user(user=user, case=case).first()


def case_resolution_proposal(*, case: Case) -> ResolutionProposal | None:
    """The latest proposed resolution that still stands (answered or waiting); a withdrawn one is gone."""
    return (
        case.resolution_proposals.filter(withdrawn_at__isnull=True)
        .select_related("proposed_by", "answered_by")
        .first()
    )


def case_audit_trail(*, case: Case) -> QuerySet[AuditEvent]:
    return case.audit_events.select_related("actor")


# The poll's one query, built by the ORM once (config.prepared): the case's version and organisation.
_case_live_row = PreparedLookup(
    lambda number: (
        Case.objects.filter(number=number).order_by().values_list("live_version", "organisation_id")
    ),
    "",
)


def case_live_version(*, user: User, number: str) -> int:
    """The live version of a case the user may see (404 otherwise), in one query (an account manager's
    organisations: one more): open pages poll it."""
    row = _case_live_row.first(number)
    if row is None or not _organisation_cases_visible(user, organisation_id=row[1]):
        raise Http404("No such case.")
    version: int = row[0]
    return version


@dataclass(frozen=True)
class NextStep:
    """What the case page asks of this viewer now (``link`` to do it), or tells them they wait for."""

    text: str
    link: str = ""
    link_label: str = ""
    waiting: bool = False


def _when(value: datetime | None) -> str:
    return date_format(timezone.localtime(value), "Y-m-d H:i") if value else "—"


def case_next_step(
    *,
    user: User,
    case: Case,
    scope: ScopeVersion | None,
    proposal: ResolutionProposal | None,
    files_missing: bool = False,
) -> NextStep | None:
    """The one thing this viewer should do next on the case, so nobody waits on something nobody asked.
    ``scope`` is the version the viewer reads and ``proposal`` the standing resolution proposal."""
    if not case.is_open:
        return None
    scope_answer = scope.acknowledgements.all()[0] if scope and scope.acknowledgements.all() else None
    if user.is_customer:
        return _customer_next_step(
            case=case, scope=scope, scope_answer=scope_answer, proposal=proposal, files_missing=files_missing
        )
    if not can_work_cases(user):
        return None
    return _engineer_next_step(case=case, scope=scope, scope_answer=scope_answer, proposal=proposal)


def _customer_next_step(
    *,
    case: Case,
    scope: ScopeVersion | None,
    scope_answer: ScopeAcknowledgement | None,
    proposal: ResolutionProposal | None,
    files_missing: bool,
) -> NextStep:
    """The customer answers what the engineer asked: a proposal, a scope, a request for files or words."""
    page = reverse("cases:detail", args=[case.number])
    if proposal is not None and proposal.pending and case.state == State.PENDING_CONFIRMATION:
        return NextStep(
            _("Your engineer proposes a resolution: does it solve the problem?"),
            page + "#resolution",
            _("Confirm or reject"),
        )
    if scope is not None and scope_answer is None and case.state not in {State.NEW, State.SCOPING}:
        return NextStep(
            _("Your engineer sent the scope (v%(version)s): please read it and accept it or object.")
            % {"version": scope.version},
            page + "#scope",
            _("Answer the scope"),
        )
    if case.state != State.AWAITING_CUSTOMER:
        return NextStep(_("Your engineer is working on the case."), waiting=True)
    asked = (
        case.audit_events.filter(action=AuditAction.REQUEST_CUSTOMER)
        .order_by("-id")
        .values_list("data", flat=True)
        .first()
    )
    text = (
        _("Your engineer asks: “%(request)s”") % {"request": asked["message"]}
        if asked and asked.get("message")
        else _("Your engineer is waiting for your answer.")
    )
    if files_missing:
        return NextStep(text, reverse("uploads:page", args=[case.number]), _("Upload files"))
    return NextStep(text, page + "#timeline", _("Reply"))


def _engineer_next_step(
    *,
    case: Case,
    scope: ScopeVersion | None,
    scope_answer: ScopeAcknowledgement | None,
    proposal: ResolutionProposal | None,
) -> NextStep | None:
    """The engineer acts on the customer's answer, writes the scope, or waits for the customer."""
    page = reverse("cases:detail", args=[case.number])
    if proposal is not None and proposal.answer == ResolutionProposal.Answer.ACCEPTED:
        return NextStep(
            _("%(who)s confirmed the proposed resolution on %(when)s: close the case with its summary.")
            % {"who": proposal.answered_by or "—", "when": _when(proposal.answered_at)},
            reverse("cases:close", args=[case.number]),
            _("Close with summary"),
        )
    if proposal is not None and proposal.pending and case.state == State.PENDING_CONFIRMATION:
        return NextStep(_("Waiting for the customer to confirm the proposed resolution."), waiting=True)
    if proposal is not None and proposal.answer == ResolutionProposal.Answer.REJECTED:
        return NextStep(
            _("%(who)s rejected the proposed resolution: %(comment)s")
            % {"who": proposal.answered_by or "—", "comment": proposal.comment},
            page + "#timeline",
            _("Read the timeline"),
        )
    if case.state == State.SCOPING and scope_answer is not None and scope_answer.decision == "objected":
        return NextStep(
            _("%(who)s objected to scope v%(version)s: revise it and send it again.")
            % {"who": scope_answer.author or "—", "version": scope.version if scope else "—"},
            page + "#scope",
            _("Revise the scope"),
        )
    if case.state in {State.NEW, State.SCOPING}:
        return NextStep(_("Write the scope and send it to the customer."), page + "#scope", _("Scope"))
    if case.state == State.AWAITING_CUSTOMER:
        return NextStep(_("Waiting for the customer."), waiting=True)
    return None


def case_fragment_scope(*, user: User) -> str:
    """What of a case page depends on who reads it, for the fragments cached per case version: the role,
    and for an account manager their own organisations (they see only those cases' counts)."""
    if user.is_account_manager:
        return f"account_manager-{user.pk}"
    return f"{user.role}-superuser" if user.is_superuser else user.role
