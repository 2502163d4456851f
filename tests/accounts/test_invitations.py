"""Customer invitations: own password, expiry, revocation, single use (issue 3)."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts import invitations
from accounts.models import Invitation, User
from cases.errors import NotAllowed
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password-of-my-own-7"


def _invite(engineer, case, django_capture_on_commit_callbacks, email="dana@contoso.example") -> str:
    staff = Client()
    staff.force_login(engineer)
    with django_capture_on_commit_callbacks(execute=True):
        response = staff.post(f"/accounts/invitations/case/{case.number}/", {"email": email})
    assert response.status_code == 302
    link = re.search(r"https?://\S+/accounts/invitations/accept/\S+/", mail.outbox[-1].body).group(0)
    return urlsplit(link).path


def test_invited_contact_chooses_their_own_password(engineer, case, django_capture_on_commit_callbacks):
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    invitation = Invitation.objects.get()
    assert invitation.token_hash not in path  # only the hash is stored
    visitor = Client()
    assert visitor.get(path).status_code == 200
    response = visitor.post(
        path, {"username": "dana", "password1": PASSWORD, "password2": PASSWORD, "first_name": "Dana"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"/cases/{case.number}/upload/"
    dana = User.objects.get(username="dana")
    assert dana.role == User.Role.CUSTOMER
    assert dana.organisation_id == case.organisation_id
    assert dana.email == "dana@contoso.example"
    assert dana.check_password(PASSWORD)
    assert visitor.get(f"/cases/{case.number}/upload/").status_code == 200
    invitation.refresh_from_db()
    assert invitation.accepted_by == dana


def test_an_invitation_works_once(engineer, case, django_capture_on_commit_callbacks):
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    Client().post(path, {"username": "dana", "password1": PASSWORD, "password2": PASSWORD})
    again = Client().post(path, {"username": "eve", "password1": PASSWORD, "password2": PASSWORD})
    assert again.status_code == 410
    assert not User.objects.filter(username="eve").exists()


def test_expired_invitation_is_refused(engineer, case, django_capture_on_commit_callbacks, settings):
    assert settings.INVITATION_VALID_DAYS == 14
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = Client().get(path)
    assert response.status_code == 410
    assert b"expired" in response.content


def test_revoked_invitation_is_refused(engineer, case, django_capture_on_commit_callbacks):
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    staff = Client()
    staff.force_login(engineer)
    invitation = Invitation.objects.get()
    assert staff.post(f"/accounts/invitations/{invitation.pk}/revoke/").status_code == 302
    response = Client().post(path, {"username": "dana", "password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 410
    assert not User.objects.filter(username="dana").exists()


def test_weak_password_is_refused_with_the_reason(engineer, case, django_capture_on_commit_callbacks):
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    response = Client().post(path, {"username": "dana", "password1": "short", "password2": "short"})
    assert response.status_code == 200
    assert not User.objects.filter(username="dana").exists()


def test_existing_customer_accepts_with_their_account(
    engineer, customer, case, django_capture_on_commit_callbacks
):
    path = _invite(engineer, case, django_capture_on_commit_callbacks, email=customer.email)
    browser = Client()
    browser.force_login(customer)
    response = browser.post(path, {"use_account": "1"})
    assert response.status_code == 302
    assert Invitation.objects.get().accepted_by == customer


def test_customer_of_another_organisation_cannot_use_the_link(
    engineer, other_customer, case, django_capture_on_commit_callbacks
):
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    token = path.rstrip("/").rsplit("/", 1)[1]
    with pytest.raises(NotAllowed):
        invitations.invitation_accept_existing(token=token, user=other_customer)
    assert Invitation.objects.get().accepted_at is None


def test_customers_cannot_invite(customer, case):
    browser = Client()
    browser.force_login(customer)
    assert (
        browser.post(f"/accounts/invitations/case/{case.number}/", {"email": "x@y.example"}).status_code
        == 403
    )
    colleague = CustomerFactory(organisation=case.organisation)
    with pytest.raises(NotAllowed):
        invitations.invitation_create(actor=colleague, case=case, email="x@y.example")
    assert not Invitation.objects.exists()
