"""Reads, and the one place where who may see which case is decided (views, API and downloads)."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from cases.models import AuditEvent, Case, ScopeVersion, TimelineEntry


def case_visible_queryset(user: User) -> QuerySet[Case]:
    """Every case the user may see: customers their organisation's, account managers the organisations
    they look after, engineers and managers all."""
    cases = Case.objects.all()
    if not user.is_authenticated or not user.is_active:
        return cases.none()
    if user.is_superuser or user.role in {User.Role.ENGINEER, User.Role.MANAGER}:
        return cases
    if user.role == User.Role.ACCOUNT_MANAGER:
        return cases.filter(organisation__account_managers=user)
    if user.organisation_id is None:
        return cases.none()
    return cases.filter(organisation_id=user.organisation_id)


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
    if search:
        search = search.strip()
        cases = cases.filter(
            Q(number__icontains=search) | Q(title__icontains=search) | Q(organisation__name__icontains=search)
        )
    return cases.order_by("-opened_at", "-id")


def case_timeline_for_user(*, user: User, case: Case) -> QuerySet[TimelineEntry]:
    """Timeline entries; customers never see internal notes."""
    entries = case.timeline.select_related("author")
    if not user.is_support_staff and not user.is_superuser:
        entries = entries.filter(internal=False)
    return entries


def case_current_scope(*, case: Case) -> ScopeVersion | None:
    return case.scope_versions.select_related("author").prefetch_related("acknowledgements__author").first()


def case_audit_trail(*, case: Case) -> QuerySet[AuditEvent]:
    return case.audit_events.select_related("actor")
