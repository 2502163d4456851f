"""Every signed-in request finds its user with the statement built once (accounts.backends.UserBackend):
as fresh as Django's own lookup, so a switched-off account or a changed password ends the session at
the next request."""

from __future__ import annotations

import pytest
from django.conf import settings

from accounts.backends import USER_BACKEND, UserBackend
from accounts.models import User

pytestmark = pytest.mark.django_db


def test_sessions_are_signed_in_with_the_backend():
    assert USER_BACKEND in settings.AUTHENTICATION_BACKENDS


@pytest.mark.parametrize("user_id", [None, "", "not a number", 10**9])
def test_an_id_naming_nobody_finds_nobody(user_id):
    assert UserBackend().get_user(user_id) is None


def test_an_account_switched_off_is_signed_out_at_its_next_request(client, customer, case):
    client.force_login(customer, backend=USER_BACKEND)
    assert client.get("/cases/").status_code == 200
    User.objects.filter(pk=customer.pk).update(is_active=False)  # even behind the model's back
    answer = client.get("/cases/")
    assert answer.status_code == 302 and answer["Location"].startswith("/accounts/login/")


def test_a_password_changed_elsewhere_ends_the_session(client, customer):
    client.force_login(customer, backend=USER_BACKEND)
    assert client.get("/cases/").status_code == 200
    customer.set_password("a-new-password-2026")
    customer.save()
    assert client.get("/cases/").status_code == 302
