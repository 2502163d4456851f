"""Server-rendered pages: authorise through selectors, call one service, render (STYLE.md rule 1)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Organisation, User
from cases import selectors, services
from cases.errors import DomainError
from cases.forms import (
    AssignForm,
    CaseCreateForm,
    CloseForm,
    MessageForm,
    ScopeAnswerForm,
    ScopeForm,
    SplitForm,
    TransitionForm,
)
from cases.models import Severity, State

PAGE_SIZE = 25


def _staff_required(user: User) -> None:
    if not (user.is_support_staff or user.is_superuser):
        raise PermissionDenied


def _run(request: HttpRequest, action: Callable[[], object], success: str) -> bool:
    """Run a service; a refusal becomes a message on the page and nothing changes."""
    try:
        action()
    except DomainError as error:
        messages.error(request, error.message)
        return False
    messages.success(request, success)
    return True


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    params = request.GET
    view = params.get("view", "mine" if request.user.role == User.Role.ENGINEER else "")
    cases = selectors.case_list_for_user(
        user=request.user,
        view=view,
        state=params.get("state", ""),
        organisation=params.get("organisation", ""),
        severity=params.get("severity", ""),
        search=params.get("q", ""),
    )
    page = Paginator(cases, PAGE_SIZE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    organisations = (
        Organisation.objects.filter(pk=request.user.organisation_id)
        if request.user.is_customer
        else Organisation.objects.all()
    )
    return render(
        request,
        "cases/list.html",
        {
            "page": page,
            "view": view,
            "query": query.urlencode(),
            "filters": params,
            "states": State.choices,
            "severities": Severity.choices,
            "organisations": organisations,
            "can_open": request.user.is_support_staff and not request.user.is_customer,
        },
    )


@login_required
def case_new(request: HttpRequest) -> HttpResponse:
    _staff_required(request.user)
    form = CaseCreateForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            case = services.case_create(actor=request.user, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Case %s opened.") % case.number)
            return redirect("cases:detail", number=case.number)
    return render(request, "cases/new.html", {"form": form})


@login_required
def case_detail(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    scope = selectors.case_current_scope(case=case)
    is_staff = request.user.is_support_staff or request.user.is_superuser
    context = {
        "case": case,
        "scope": scope,
        "scope_history": case.scope_versions.select_related("author")[1:] if is_staff else [],
        "timeline": selectors.case_timeline_for_user(user=request.user, case=case),
        "summary": case.summaries.select_related("author").first(),
        "children": case.children.all(),
        "transitions": [
            t for t in services.transitions_allowed(actor=request.user, case=case) if t.name != "close"
        ],
        "can_work": bool(services.transitions_allowed(actor=request.user, case=case))
        or (is_staff and not request.user.is_account_manager),
        "can_close": case.is_open
        and any(t.name == "close" for t in services.transitions_allowed(actor=request.user, case=case)),
        "is_staff": is_staff,
        "message_form": MessageForm(),
        "scope_form": ScopeForm(
            initial={
                "problem_definition": scope.problem_definition,
                "scope": scope.scope,
                "next_steps": scope.next_steps,
            }
            if scope
            else None
        ),
        "answer_form": ScopeAnswerForm(),
        "assign_form": AssignForm(),
        "split_form": SplitForm(),
        "can_answer_scope": request.user.is_customer
        and case.is_open
        and scope is not None
        and case.state not in {State.NEW, State.SCOPING},
        "audit": selectors.case_audit_trail(case=case)[:50] if is_staff else [],
    }
    return render(request, "cases/detail.html", context)


@login_required
@require_POST
def case_scope_save(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = ScopeForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("The scope needs a problem definition, a scope with closure criteria and next steps.")
        )
    else:
        _run(
            request,
            lambda: services.scope_save(actor=request.user, case=case, **form.cleaned_data),
            _("Scope saved."),
        )
    return redirect("cases:detail", number=number)


@login_required
@require_POST
def case_scope_answer(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = ScopeAnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to accept or to object."))
    else:
        _run(
            request,
            lambda: services.scope_acknowledge(actor=request.user, case=case, **form.cleaned_data),
            _("Thank you: your answer to the scope is recorded."),
        )
    return redirect("cases:detail", number=number)


@login_required
@require_POST
def case_message(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = MessageForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The message is empty."))
    else:
        _run(
            request,
            lambda: services.timeline_add(actor=request.user, case=case, **form.cleaned_data),
            _("Added to the timeline."),
        )
    return redirect("cases:detail", number=number)


@login_required
@require_POST
def case_action(request: HttpRequest, number: str, action: str) -> HttpResponse:
    if action not in services.TRANSITIONS or action == "close":
        raise Http404("No such action.")
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = TransitionForm(request.POST)
    form.is_valid()
    _run(
        request,
        lambda: services.case_transition(
            actor=request.user, case=case, name=action, message=form.cleaned_data.get("message", "")
        ),
        _("Done: %s.") % services.TRANSITIONS[action].label,
    )
    return redirect("cases:detail", number=number)


@login_required
@require_POST
def case_assign(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = AssignForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose an engineer to assign the case to."))
    else:
        _run(
            request,
            lambda: services.case_assign(actor=request.user, case=case, **form.cleaned_data),
            _("Case assigned."),
        )
    return redirect("cases:detail", number=number)


@login_required
@require_POST
def case_split(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = SplitForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The new case needs a title."))
    else:
        _run(
            request,
            lambda: services.case_split(actor=request.user, case=case, **form.cleaned_data),
            _("New case opened."),
        )
    return redirect("cases:detail", number=number)


@login_required
def case_close(request: HttpRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    _staff_required(request.user)
    scope = selectors.case_current_scope(case=case)
    form = CloseForm(
        request.POST or None,
        initial={"problem_description": scope.problem_definition if scope else case.description},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.case_close(actor=request.user, case=case, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Case %s closed.") % case.number)
            return redirect("cases:detail", number=number)
    return render(request, "cases/close.html", {"case": case, "form": form})
