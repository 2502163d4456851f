"""Server-rendered pages: authorise through selectors, call one service, render (STYLE.md rule 1)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.functional import SimpleLazyObject
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from accounts.capabilities import can_open_cases, can_see_internal, can_work_cases
from accounts.models import Organisation, User
from accounts.requests import AuthenticatedRequest
from analysis.selectors import analysis_panel_for
from cases import conversation, selectors, services
from cases.conversation import ResolutionDeadlines, resolution_deadlines
from cases.errors import DomainError
from cases.forms import (
    AnswerForm,
    AssignForm,
    CaseCreateForm,
    CloseForm,
    MessageForm,
    ScopeForm,
    SplitForm,
    TransitionForm,
)
from cases.models import Case, ResolutionProposal, Severity, State
from communications.panel import communications_panel_for
from communications.selectors import evidence_checklist
from communications.services import case_follow as case_follow_service
from config.pagination import SharedCountPaginator

PAGE_SIZE = 25

T = TypeVar("T")


def _staff_required(user: User) -> None:
    if not can_see_internal(user):
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
def case_list(request: AuthenticatedRequest) -> HttpResponse:
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
    page = SharedCountPaginator(cases, PAGE_SIZE).get_page(params.get("page"))
    query = params.copy()
    query.pop("page", None)
    own = request.user.organisation_id
    # Rows and the table are cached per role (a search's rows show the matching words: never cached).
    row_scope = "" if params.get("q") else selectors.case_fragment_scope(user=request.user)
    if request.user.is_customer:
        organisations = Organisation.objects.filter(pk=own) if own else Organisation.objects.none()
    else:
        organisations = Organisation.objects.all()
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
            "can_open": can_open_cases(request.user),
            "row_scope": row_scope,
        },
    )


@login_required
def case_new(request: AuthenticatedRequest) -> HttpResponse:
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


def case_folds(*, user: User, case: Case) -> dict[str, bool]:
    """Which folded sections of the case page start open: those that need this reader now. From the role
    and the state only, so a page served from the cache costs no query for it."""
    staff = can_see_internal(user)
    waiting_on_customer = case.state == State.AWAITING_CUSTOMER
    return {
        "scope": case.state in {State.NEW, State.SCOPING, State.AWAITING_CUSTOMER},
        "uploads": user.is_customer and waiting_on_customer,
        "analysis": staff,
        "messages": can_work_cases(user) and case.is_open,  # where the engineer drafts what is sent
    }


def _lazy(compute: Callable[[], T]) -> T:
    # Most of the case page comes from fragments cached per case version (cases/templatetags): what only
    # they show is computed when one of them is rendered, never on a page served from the cache.
    return cast(T, SimpleLazyObject(compute))  # the proxy stands for the value it computes


def _pending_deadlines(proposal: ResolutionProposal | None) -> ResolutionDeadlines | None:
    return resolution_deadlines(proposal=proposal) if proposal and proposal.pending else None


def _case_reads(*, user: User, case: Case) -> dict[str, object]:
    """What the case page reads for this viewer, each read when a fragment first needs it."""
    read_scope = functools.cache(lambda: selectors.case_scope_for_user(user=user, case=case))
    read_proposal = functools.cache(lambda: selectors.case_resolution_proposal(case=case))
    read_checklist = functools.cache(lambda: evidence_checklist(case=case))
    proposal = _lazy(read_proposal)
    return {
        "checklist": _lazy(read_checklist),
        "scope": _lazy(read_scope),
        "scope_history": _lazy(
            lambda: list(selectors.case_scope_versions_for_user(user=user, case=case)[1:])
        ),
        "proposal": proposal,
        "proposal_deadlines": _lazy(lambda: _pending_deadlines(read_proposal())),
        "next_step": _lazy(
            lambda: selectors.case_next_step(
                user=user,
                case=case,
                scope=read_scope(),
                proposal=read_proposal(),
                files_missing=any(not status.received for status in read_checklist()),
            )
        ),
        "timeline": _lazy(lambda: selectors.case_timeline_for_user(user=user, case=case)),
        "summary": _lazy(lambda: case.summaries.select_related("author").first()),
        "children": case.children.all(),
        "analysis_panel": _lazy(lambda: analysis_panel_for(user=user, case=case)),
        "communications_panel": _lazy(
            lambda: communications_panel_for(user=user, case=case, checklist=read_checklist())
        ),
    }


def _case_actions(*, user: User, case: Case, scope: Any, proposal: Any) -> dict[str, object]:
    """What this viewer may do on the case page (``accounts.capabilities`` and the case's state)."""
    is_staff = can_see_internal(user)
    allowed = services.transitions_allowed(actor=user, case=case)
    return {
        "transitions": [t for t in allowed if t.name != "close"],
        "can_work": bool(allowed) or can_work_cases(user),
        "can_close": case.is_open and any(t.name == "close" for t in allowed),
        "can_post": case.is_open or is_staff,
        "is_staff": is_staff,
        "following": is_staff and case.following,  # type: ignore[attr-defined]  # annotated by the selector
        "can_answer_scope": _lazy(
            lambda: (
                user.is_customer
                and case.is_open
                and scope
                and not scope.acknowledgements.all()
                and case.state not in {State.NEW, State.SCOPING}
            )
        ),
        "can_answer_resolution": user.is_customer
        and case.state == State.PENDING_CONFIRMATION
        and _lazy(lambda: bool(proposal and proposal.pending)),
        "audit": _lazy(lambda: selectors.case_audit_trail(case=case)[:50] if is_staff else []),
    }


def _case_forms(*, scope: Any) -> dict[str, object]:
    """The case page's forms; the scope form starts from the version the viewer reads."""
    return {
        "message_form": _lazy(MessageForm),
        "scope_form": _lazy(
            lambda: ScopeForm(
                initial={
                    "problem_definition": scope.problem_definition,
                    "scope": scope.scope,
                    "next_steps": scope.next_steps,
                }
                if scope
                else None
            )
        ),
        "answer_form": _lazy(AnswerForm),
        "assign_form": _lazy(AssignForm),
        "split_form": _lazy(SplitForm),
    }


@login_required
def case_detail(request: AuthenticatedRequest, number: str) -> HttpResponse:
    # The case row (with its live version) is read first: a change during the render raises the version
    # above the one the page carries, so the page fetches it again.
    case = selectors.case_for_page(user=request.user, number=number)
    user = request.user
    reads = _case_reads(user=user, case=case)
    context = {
        "case": case,
        "fragment_scope": selectors.case_fragment_scope(user=user),
        "fold": case_folds(user=user, case=case),
        **reads,
        **_case_actions(user=user, case=case, scope=reads["scope"], proposal=reads["proposal"]),
        **_case_forms(scope=reads["scope"]),
        "closed_message": services.closed_case_message(),
        # A refresh by the live page must not take the flash messages meant for the next full page.
        "live_refresh": request.headers.get("X-Live-Refresh") == "1",
    }
    return render(request, "cases/detail.html", context)


# never_cache's Cache-Control, written out once: the decorator parses and rebuilds the header and dates an
# Expires header (which Cache-Control outranks) for each answer, and this is the portal's most frequent one.
NEVER_STORE = "max-age=0, no-cache, no-store, must-revalidate, private"


@login_required
@require_GET
def case_version(request: AuthenticatedRequest, number: str) -> HttpResponse:
    """The case's live version, polled by open case pages; ``304`` while nothing changed (one query)."""
    version = selectors.case_live_version(user=request.user, number=number)
    etag = f'"{version}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = JsonResponse({"version": version})
    response["ETag"] = etag
    response["Cache-Control"] = NEVER_STORE
    return response


def _answer(
    request: AuthenticatedRequest, number: str, answer: Callable[..., object], *, done: str, anchor: str
) -> HttpResponse:
    """The customer's answer to the scope or to a proposed resolution: a refusal is a message on the page."""
    case = selectors.case_get_for_user(user=request.user, number=number)
    form = AnswerForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose your answer with one of the two buttons."))
    else:
        _run(request, lambda: answer(actor=request.user, case=case, **form.cleaned_data), done)
    return redirect(reverse("cases:detail", args=[number]) + anchor)


@login_required
@require_POST
def case_resolution_answer(request: AuthenticatedRequest, number: str) -> HttpResponse:
    return _answer(
        request,
        number,
        conversation.resolution_answer,
        done=_("Thank you: your answer is recorded and your engineer is told."),
        anchor="#resolution",
    )


@login_required
@require_POST
def case_follow(request: AuthenticatedRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    follow = request.POST.get("follow") == "1"
    _run(
        request,
        lambda: case_follow_service(actor=request.user, case=case, follow=follow),
        _("You follow this case: you are told what its owner is told.")
        if follow
        else _("You no longer follow this case."),
    )
    return redirect("cases:detail", number=number)


@login_required
@require_POST
def case_scope_save(request: AuthenticatedRequest, number: str) -> HttpResponse:
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
def case_scope_answer(request: AuthenticatedRequest, number: str) -> HttpResponse:
    return _answer(
        request,
        number,
        conversation.scope_acknowledge,
        done=_("Thank you: your answer to the scope is recorded."),
        anchor="#scope",
    )


@login_required
@require_POST
def case_message(request: AuthenticatedRequest, number: str) -> HttpResponse:
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
def case_action(request: AuthenticatedRequest, number: str, action: str) -> HttpResponse:
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
def case_assign(request: AuthenticatedRequest, number: str) -> HttpResponse:
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
def case_split(request: AuthenticatedRequest, number: str) -> HttpResponse:
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
def case_close(request: AuthenticatedRequest, number: str) -> HttpResponse:
    case = selectors.case_get_for_user(user=request.user, number=number)
    _staff_required(request.user)
    scope = selectors.case_current_scope(case=case)
    initial = {"problem_description": scope.problem_definition if scope else case.description}
    proposal = selectors.case_resolution_proposal(case=case)
    if proposal is not None and proposal.answer == ResolutionProposal.Answer.ACCEPTED:
        # The customer confirmed it: the summary's resolution starts from the proposal.
        initial.update(resolution=proposal.text, resolution_type="resolved")
    form = CloseForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.case_close(actor=request.user, case=case, **form.cleaned_data)
        except DomainError as error:
            form.add_error(None, error.message)
        else:
            messages.success(request, _("Case %s closed.") % case.number)
            return redirect("cases:detail", number=number)
    return render(request, "cases/close.html", {"case": case, "form": form})
