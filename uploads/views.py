"""Server-rendered pages of uploads: the customers' upload page and downloads (STYLE.md rule 1)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.capabilities import can_act_for_vendor, can_delete_any_upload
from accounts.models import User
from accounts.requests import AuthenticatedRequest
from cases.errors import DomainError
from cases.selectors import case_get_for_user
from config.links import site_url
from uploads import downloads, files, housekeeping, selectors, services, withdrawal
from uploads.files import content_disposition
from uploads.models import Upload

DOWNLOAD_BLOCK = 1024 * 1024


def download_response(*, actor: User, upload: Upload) -> HttpResponseBase:
    """The stored file, streamed as an attachment that no browser will render or sniff; or, with
    STORAGE_PRESIGNED_DOWNLOADS, a redirect to a short-lived address of the bucket that says the same."""
    if settings.STORAGE_PRESIGNED_DOWNLOADS and files.storage_is_bucket():
        response: HttpResponseBase = HttpResponseRedirect(
            downloads.upload_download_link(actor=actor, upload=upload)
        )
        response["Cache-Control"] = "private, no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response
    handle = downloads.upload_open_for_download(actor=actor, upload=upload)
    response = FileResponse(handle, content_type="application/octet-stream")
    response.block_size = DOWNLOAD_BLOCK
    response["Content-Length"] = str(upload.size)
    response["Content-Disposition"] = content_disposition(upload.filename)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def upload_download(request: AuthenticatedRequest, upload_id: uuid.UUID) -> HttpResponseBase:
    upload = selectors.upload_get_for_user(user=request.user, upload_id=upload_id)
    try:
        return download_response(actor=request.user, upload=upload)
    except DomainError as error:
        return HttpResponse(error.message, status=error.status_code, content_type="text/plain; charset=utf-8")


@login_required
@require_POST
def upload_withdraw(request: AuthenticatedRequest, upload_id: uuid.UUID) -> HttpResponse:
    """The page's Cancel, Withdraw and Delete buttons (a form: they work without JavaScript); the outcome
    or the refusal is a message on the upload page."""
    upload = selectors.upload_get_for_user(user=request.user, upload_id=upload_id)
    name = upload.filename
    try:
        # The button says which: a Cancel pressed as the upload finished must not withdraw the file.
        if request.POST.get("action") == "cancel":
            services.upload_terminate(actor=request.user, upload=upload)
            withdrawn = None
        else:
            withdrawn = withdrawal.upload_withdraw(
                actor=request.user, upload=upload, reason=request.POST.get("reason", "")
            )
    except DomainError as error:
        messages.error(request, _("%(file)s: %(reason)s") % {"file": name, "reason": error.message})
    else:
        if withdrawn is None:
            messages.success(request, _("The upload of %(file)s was cancelled.") % {"file": name})
        elif can_act_for_vendor(request.user):
            messages.success(
                request,
                _("%(file)s was deleted; its name, size and SHA-256 stay on record.") % {"file": name},
            )
        else:
            messages.success(
                request,
                _("%(file)s was withdrawn; its name, size and SHA-256 stay on record.") % {"file": name},
            )
    return redirect(f"{reverse('uploads:page', args=[upload.case.number])}#uploads")


@login_required
def upload_page(request: AuthenticatedRequest, number: str) -> HttpResponse:
    """``/cases/<number>/upload/``: drag and drop, progress, resume, and the case's uploads (each with
    the cancel, resume, withdraw or delete its reader may use)."""
    case = case_get_for_user(user=request.user, number=number)
    uploads = selectors.upload_list_for_page(case=case)
    # The page uploads to its own origin; the command for a server without a browser uses the site's address.
    tus_path = reverse("api:upload_tus", args=[case.number])
    tus_url = site_url(tus_path)
    token_url = site_url(reverse("api:token"))
    command = render_to_string(
        "uploads/cli_command.txt",
        {
            "username": request.user.get_username(),
            "token_url": token_url,
            "tus_url": tus_url,
            "case_number": number,
        },
    )
    return render(
        request,
        "uploads/page.html",
        {
            "case": case,
            "uploads": uploads,
            "quota": services.upload_quota_usage(case=case),
            "retention_date": housekeeping.upload_retention_date(case=case),
            "retention_days": settings.UPLOAD_RETENTION_DAYS,
            "expiry_hours": settings.UPLOAD_EXPIRY_HOURS,
            "max_size": settings.UPLOAD_MAX_SIZE,
            "chunk_size": settings.UPLOAD_CHUNK_SIZE,
            "tus_path": tus_path,
            "command": command,
            "strings": _page_strings(),
            "list_url": reverse("api:upload_list", args=[case.number]),
            "csrf_token_value": get_token(request),
            "can_upload": case.is_open,
            "manage": True,
            "can_delete_any": can_delete_any_upload(request.user),
            # Staff delete with a reason kept in the record; a customer withdraws their own file.
            "reason_required": can_act_for_vendor(request.user),
        },
    )


def _page_strings() -> dict[str, str]:
    """Messages of static/js/upload.js, translated here (the script has no catalogue of its own)."""
    return {
        "queued": _("Waiting"),
        "hashing": _("Checking the chunk"),
        "uploading": _("%(done)s of %(total)s · %(speed)s/s · %(left)s left"),
        "paused": _("Paused at %(done)s of %(total)s"),
        "resuming": _("Resuming from %(done)s"),
        "retrying": _("Connection lost; retrying in %(seconds)s s"),
        "verifying": _("Verifying the file on the server"),
        "done": _("Stored · SHA-256 %(sha256)s"),
        "cancelled": _("Cancelled"),
        "too_large": _("This file is larger than the %(max)s allowed per file."),
        "session": _("Your session has ended: sign in again, then drop the file again to resume."),
        "refused": _("Refused: %(reason)s"),
        "failed": _("The upload failed: %(reason)s"),
        "checksum": _("A chunk arrived damaged and is sent again."),
        "cancel_confirm": _("Cancel this upload? The part already sent is discarded."),
        "duplicate": _("Stored · %(note)s"),
        "duplicate_unknown": _(
            "Stored · the same file as one already in this case: it is not analysed again (see the list below)."
        ),
        "resume_pick": _("Choose %(file)s again to resume its upload."),
        "resume_wrong": _(
            "That file is %(size)s; the upload waiting here is %(expected)s. Choose the same file to resume."
        ),
        "progress": _("%(file)s: %(percent)s uploaded"),
        "started": _("Uploading %(file)s"),
        "stored": _("%(file)s is stored"),
        "copied": _("Copied."),
        "copy_failed": _("Could not copy: the SHA-256 is selected, copy it with your keyboard."),
    }
