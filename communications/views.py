"""Pages of the communications app: authorise through cases.selectors, call one service, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.capabilities import can_work_cases
from accounts.requests import AuthenticatedRequest
from cases.errors import DomainError
from cases.models import Case
from cases.selectors import case_get_for_user
from communications import selectors, services
from communications.documents import LANGUAGES, Draft, document_draft, document_language
from communications.forms import DocumentForm, EvidenceForm, PreferencesForm
from communications.models import DocumentKind, EvidenceItem
from communications.panel import LANGUAGE_NAMES
from communications.text_html import text_to_html


def _worker_required(request: AuthenticatedRequest) -> None:
    if not can_work_cases(request.user):
        raise PermissionDenied


def _kind_or_404(kind: str) -> str:
    if kind not in DocumentKind.values:
        raise Http404("No such document.")
    return kind


@login_required
def document_edit(request: AuthenticatedRequest, number: str, kind: str) -> HttpResponse:
    """The draft of a document, generated from the case, ready to edit and send."""
    case = case_get_for_user(user=request.user, number=number)
    _worker_required(request)
    kind = _kind_or_404(kind)
    draft = document_draft(case=case, kind=kind, language=request.GET.get("lang", ""), author=request.user)
    form = DocumentForm(initial={"subject": draft.subject, "body": draft.body})
    return _document_page(request, case=case, kind=kind, draft=draft, body=draft.body, form=form)


@login_required
@require_POST
def document_send(request: AuthenticatedRequest, number: str, kind: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    _worker_required(request)
    kind = _kind_or_404(kind)
    language = request.POST.get("language", "")
    form = DocumentForm(request.POST)
    if form.is_valid():
        try:
            services.document_send(
                actor=request.user, case=case, kind=kind, language=language, **form.cleaned_data
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Sent to the customer and added to the timeline."))
            return redirect(reverse("cases:detail", args=[number]) + "#documents")
    else:
        messages.error(request, _("The document needs a subject and a text."))
    # Keep the engineer's edits: show the form again with what they wrote.
    draft = document_draft(case=case, kind=kind, language=language, author=request.user)
    return _document_page(
        request, case=case, kind=kind, draft=draft, body=request.POST.get("body", ""), form=form, status=400
    )


def _document_page(
    request: HttpRequest,
    *,
    case: Case,
    kind: str,
    draft: Draft,
    body: str,
    form: DocumentForm,
    status: int = 200,
) -> HttpResponse:
    """The document editor: the draft, the form (fresh or as the engineer left it) and a preview of ``body``."""
    return render(
        request,
        "communications/document.html",
        {
            "case": case,
            "kind": kind,
            "kind_label": DocumentKind(kind).label,
            "kinds": DocumentKind.choices,
            "draft": draft,
            "preview": text_to_html(body),
            "form": form,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "contact_language": document_language(case=case),
            "recipient": case.customer_contact,
        },
        status=status,
    )


@login_required
def document_read(request: AuthenticatedRequest, number: str, document_id: int) -> HttpResponse:
    """A sent document as the customer received it."""
    case = case_get_for_user(user=request.user, number=number)
    document = get_object_or_404(selectors.documents_for_case(case=case), pk=document_id)
    return render(request, "communications/document_read.html", {"case": case, "document": document})


@login_required
@require_POST
def evidence_add(request: AuthenticatedRequest, number: str) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    _worker_required(request)
    form = EvidenceForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Say which file is needed."))
    else:
        try:
            services.evidence_item_add(actor=request.user, case=case, **form.cleaned_data)
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Request added: the customer's upload page lists it."))
    return redirect(reverse("cases:detail", args=[number]) + "#evidence")


@login_required
@require_POST
def evidence_remove(request: AuthenticatedRequest, number: str, item_id: int) -> HttpResponse:
    case = case_get_for_user(user=request.user, number=number)
    _worker_required(request)
    # Already withdrawn (a second click, or a colleague): nothing left to do.
    item = EvidenceItem.objects.filter(pk=item_id, case=case).first()
    if item is not None:
        try:
            services.evidence_item_remove(actor=request.user, item=item)
        except DomainError as error:
            messages.error(request, error.message)
    return redirect(reverse("cases:detail", args=[number]) + "#evidence")


@login_required
def notification_list(request: AuthenticatedRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_for_user(user=request.user), 30).get_page(
        request.GET.get("page")
    )
    return render(request, "communications/notifications.html", {"page": page})


@login_required
@require_POST
def notification_open(request: AuthenticatedRequest, notification_id: int) -> HttpResponse:
    notification = get_object_or_404(selectors.notifications_for_user(user=request.user), pk=notification_id)
    services.notification_mark_read(user=request.user, notification_id=notification.pk)
    # The case may have become invisible since (organisation changed): the case page decides, with 404.
    return redirect("cases:detail", number=notification.case.number)


@login_required
@require_POST
def notifications_read(request: AuthenticatedRequest) -> HttpResponse:
    services.notification_mark_read(user=request.user)
    messages.success(request, _("All notifications marked read."))
    return redirect("communications:notifications")


@login_required
def preferences(request: AuthenticatedRequest) -> HttpResponse:
    current = selectors.notification_preferences(user=request.user)
    form = PreferencesForm(request.POST or None, current=current)
    if request.method == "POST" and form.is_valid():
        services.notification_preferences_save(user=request.user, choices=form.choices())
        messages.success(request, _("Your notification settings are saved."))
        return redirect("communications:preferences")
    return render(request, "communications/preferences.html", {"form": form})
