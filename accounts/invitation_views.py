"""Invitation pages: staff invite and revoke; the invitee accepts (STYLE.md rule 1: thin views)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from accounts import invitations
from accounts.backends import USER_BACKEND
from accounts.capabilities import can_invite_contacts
from accounts.models import Invitation
from accounts.requests import AuthenticatedRequest
from cases.errors import DomainError
from cases.selectors import case_get_for_user, case_visible_queryset


class InvitationForm(forms.Form):
    email = forms.EmailField(label=gettext_lazy("Contact's e-mail"))


class AcceptForm(forms.Form):
    # Django's rules for user names, as in the admin: letters, digits and @ . + - _ only.
    username = forms.CharField(
        label=gettext_lazy("User name"), max_length=150, validators=[UnicodeUsernameValidator()]
    )
    first_name = forms.CharField(label=gettext_lazy("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=gettext_lazy("Last name"), max_length=150, required=False)
    password1 = forms.CharField(
        label=gettext_lazy("Password"), widget=forms.PasswordInput(render_value=False)
    )
    password2 = forms.CharField(
        label=gettext_lazy("Password again"), widget=forms.PasswordInput(render_value=False)
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password1") != data.get("password2"):
            raise forms.ValidationError(gettext_lazy("The two passwords differ."))
        return data


@login_required
def invitation_new(request: AuthenticatedRequest, number: str) -> HttpResponse:
    """Invite a customer contact to the case, and see or revoke the case's invitations."""
    case = case_get_for_user(user=request.user, number=number)  # 404 first: never hint a case exists
    if not can_invite_contacts(request.user):
        raise PermissionDenied
    form = InvitationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sent = invitations.invitation_create(
                actor=request.user, case=case, email=form.cleaned_data["email"]
            )
        except DomainError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, _("Invitation sent to %(email)s.") % {"email": sent.invitation.email})
            return redirect("accounts:invitation_new", number=case.number)
    return render(
        request,
        "accounts/invitation_new.html",
        {
            "case": case,
            "form": form,
            "invitations": invitations.invitation_list_for_case(case=case),
            "now": timezone.now(),
        },
    )


@login_required
@require_POST
def invitation_revoke(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    invitation = get_object_or_404(
        Invitation.objects.select_related("case"), pk=pk, case__in=case_visible_queryset(request.user)
    )
    try:
        invitations.invitation_revoke(actor=request.user, invitation=invitation)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Invitation withdrawn."))
    return redirect("accounts:invitation_new", number=invitation.case.number)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """The link in the e-mail: choose a password for a new account, or use the signed-in one."""
    try:
        invitation = invitations.invitation_get_by_token(token=token)
    except DomainError as error:
        return render(request, "accounts/invitation_invalid.html", {"message": error.message}, status=410)
    form = AcceptForm(request.POST or None, initial={"username": invitation.email.split("@")[0]})
    if request.method == "POST":
        try:
            if request.POST.get("use_account") and request.user.is_authenticated:
                user = invitations.invitation_accept_existing(token=token, user=request.user)
            elif form.is_valid():
                user = invitations.invitation_accept_new_account(
                    token=token,
                    username=form.cleaned_data["username"],
                    password=form.cleaned_data["password1"],
                    first_name=form.cleaned_data["first_name"],
                    last_name=form.cleaned_data["last_name"],
                )
                login(request, user, backend=USER_BACKEND)
            else:
                user = None
        except DomainError as error:
            messages.error(request, error.message)
            user = None
        if user is not None:
            messages.success(request, _("Welcome. You can now upload files to this case."))
            return redirect("uploads:page", number=invitation.case.number)
    login_url = reverse("accounts:login") + "?next=" + request.path
    return render(
        request,
        "accounts/invitation_accept.html",
        {"invitation": invitation, "form": form, "login_url": login_url},
    )
