"""The staff queue of mail (``/mail/``) and the originals of messages (STYLE.md rule 1: thin)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.capabilities import can_manage_mail_queue
from accounts.requests import AuthenticatedRequest
from cases.errors import DomainError
from cases.selectors import case_get_for_user
from inbound import mail_text, parsing, receiving, selectors, services
from inbound.forms import AttachForm, DiscardForm, OpenCaseForm
from inbound.models import InboundMessage
from uploads.files import content_disposition

PAGE_SIZE = 50


def _worker_required(request: AuthenticatedRequest) -> None:
    if not can_manage_mail_queue(request.user):
        raise PermissionDenied


@login_required
def mail_queue(request: AuthenticatedRequest) -> HttpResponse:
    """Mail waiting for staff (``?state=`` shows the rest: posted, opened cases, automatic, ...)."""
    _worker_required(request)
    state = request.GET.get("state", InboundMessage.State.QUEUED)
    page = Paginator(selectors.inbound_list(state=state), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "inbound/queue.html",
        {
            "page": page,
            "state": state if state in InboundMessage.State.values else "",
            "states": InboundMessage.State.choices,
            "query": f"state={state}",
        },
    )


def _files_of(message: InboundMessage) -> list[parsing.Attachment]:
    if message.content_deleted_at is not None or message.too_large or message.attachments:
        return []
    return parsing.mail_parse(receiving.inbound_raw_read(message=message)).attachments


def _detail(
    request: HttpRequest, message: InboundMessage, *, status: int = 200, **forms: object
) -> HttpResponse:
    context = {
        "message": message,
        "files": _files_of(message) if message.needs_staff else [],
        "attach_form": forms.get("attach_form") or AttachForm(),
        "open_form": forms.get("open_form")
        or OpenCaseForm(
            initial={
                "title": mail_text.subject_clean(message.subject),
                "organisation": message.sender.organisation_id if message.sender else None,
                "customer_contact": message.sender_id
                if message.sender and message.sender.is_customer
                else None,
            }
        ),
        "discard_form": forms.get("discard_form") or DiscardForm(),
    }
    return render(request, "inbound/detail.html", context, status=status)


@login_required
def mail_detail(request: AuthenticatedRequest, message_id: int) -> HttpResponse:
    message = selectors.inbound_message_for_staff(user=request.user, message_id=message_id)
    return _detail(request, message)


def _original(message: InboundMessage) -> HttpResponse:
    if message.content_deleted_at is not None or not message.storage_name:
        return HttpResponse(_("The original was deleted by the retention policy."), status=410)
    response = HttpResponse(receiving.inbound_raw_read(message=message), content_type="message/rfc822")
    response["Content-Disposition"] = content_disposition(f"message-{message.pk}.eml")
    return response


@login_required
def mail_original(request: AuthenticatedRequest, message_id: int) -> HttpResponse:
    """The message exactly as received, as an attachment (``nosniff`` is set site-wide)."""
    return _original(selectors.inbound_message_for_staff(user=request.user, message_id=message_id))


@login_required
def mail_entry_original(request: AuthenticatedRequest, entry_id: int) -> HttpResponse:
    """The original e-mail of a timeline entry written from one (staff only)."""
    return _original(selectors.inbound_message_for_entry(user=request.user, entry_id=entry_id))


@login_required
@require_POST
def mail_attach(request: AuthenticatedRequest, message_id: int) -> HttpResponse:
    message = selectors.inbound_message_for_staff(user=request.user, message_id=message_id)
    form = AttachForm(request.POST)
    if not form.is_valid():
        return _detail(request, message, status=400, attach_form=form)
    try:
        case = case_get_for_user(user=request.user, number=form.cleaned_data["case_number"])
    except Http404:  # say so on the form instead of a bare 404 page
        form.add_error("case_number", _("No case with this number."))
        return _detail(request, message, status=400, attach_form=form)
    try:
        outcome = services.inbound_message_attach(
            actor=request.user, message=message, case=case, internal=form.cleaned_data["internal"]
        )
    except DomainError as error:
        messages.error(request, error.message)
        return _detail(request, message, status=400, attach_form=form)
    messages.success(request, _("Added to case %s.") % outcome.case.number)
    return redirect(
        reverse("cases:detail", args=[outcome.case.number]) + f"#entry-{message.timeline_entry_id}"
    )


@login_required
@require_POST
def mail_open_case(request: AuthenticatedRequest, message_id: int) -> HttpResponse:
    message = selectors.inbound_message_for_staff(user=request.user, message_id=message_id)
    form = OpenCaseForm(request.POST)
    if not form.is_valid():
        return _detail(request, message, status=400, open_form=form)
    try:
        outcome = services.inbound_message_open_case(actor=request.user, message=message, **form.cleaned_data)
    except DomainError as error:
        messages.error(request, error.message)
        return _detail(request, message, status=400, open_form=form)
    messages.success(request, _("Case %s opened from the e-mail.") % outcome.case.number)
    return redirect("cases:detail", outcome.case.number)


@login_required
@require_POST
def mail_discard(request: AuthenticatedRequest, message_id: int) -> HttpResponse:
    message = selectors.inbound_message_for_staff(user=request.user, message_id=message_id)
    form = DiscardForm(request.POST)
    form.is_valid()
    try:
        services.inbound_message_discard(
            actor=request.user, message=message, note=form.cleaned_data.get("note", "")
        )
    except DomainError as error:
        messages.error(request, error.message)
        return _detail(request, message, status=400, discard_form=form)
    messages.success(request, _("Message discarded."))
    return redirect("inbound:queue")
