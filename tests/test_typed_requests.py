"""``accounts.requests.signed_in_user``: the user of a request that passed a sign-in check, refused
otherwise (the admin's and the API's checks run before the code that calls it)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory

from accounts.models import User
from accounts.requests import signed_in_user


def test_signed_in_user_is_the_requests_user():
    request = RequestFactory().get("/")
    request.user = User(username="wei")
    assert signed_in_user(request) is request.user


def test_signed_in_user_refuses_an_anonymous_request():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with pytest.raises(PermissionDenied):
        signed_in_user(request)
