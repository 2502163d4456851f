"""A verified session finds its second-factor device without a query while the user's second-factor stamp
is unchanged (accounts.two_factor.session_device); any change to one of the user's devices raises the
stamp, and the next request of every session asks the database again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import two_factor
from accounts.models import User
from tests.factories import UserFactory
from tests.test_two_factor import _code, _password_login

pytestmark = pytest.mark.django_db

DEVICE_TABLE = TOTPDevice._meta.db_table
SETUP = "/accounts/two-factor/setup/"


@pytest.fixture
def verified(client, engineer, settings):
    """An engineer signed in with password and code; engineers must use a second factor here, so a
    session that loses its device is sent to set one up again."""
    settings.TWO_FACTOR_REQUIRED_ROLES = ["engineer"]
    device = TOTPDevice.objects.create(user=engineer, name="a", confirmed=True, tolerance=0)
    _password_login(client, "engineer")
    assert client.post("/accounts/two-factor/verify/", {"code": _code(device)}).status_code == 302
    return device


def _device_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/cases/").status_code == 200
    return sum(DEVICE_TABLE in query["sql"] for query in queries.captured_queries)


def test_a_verified_session_reads_its_device_once(client, verified):
    assert _device_queries(client) == 1  # the code's check saved the device, which raised the stamp
    assert _device_queries(client) == 0
    assert _device_queries(client) == 0


def test_the_session_keeps_no_secret(client, verified):
    _device_queries(client)
    assert verified.key not in repr(dict(client.session.items()))


def test_a_deleted_device_ends_the_verification_at_once(client, verified):
    _device_queries(client)
    verified.delete()
    response = client.get("/cases/")
    assert response.status_code == 302 and response["Location"] == SETUP


def test_a_device_replaced_by_a_new_enrolment_ends_the_old_sessions(client, verified, engineer):
    """A new authenticator deletes the old one with a queryset delete (two_factor_enrolment_confirm)."""
    _device_queries(client)
    TOTPDevice.objects.filter(user=engineer, confirmed=True).delete()
    assert client.get("/cases/")["Location"] == SETUP


def test_an_unconfirmed_device_ends_the_verification(client, verified):
    _device_queries(client)
    verified.confirmed = False
    verified.save()
    assert client.get("/cases/")["Location"] == SETUP


def test_a_device_given_to_someone_else_ends_its_former_owners_verification(client, verified):
    _device_queries(client)
    verified.user = UserFactory(username="someone-else", role=User.Role.ENGINEER)
    verified.save()
    assert client.get("/cases/")["Location"] == SETUP


def test_a_change_behind_the_orms_back_is_seen_within_the_stated_age(client, verified, monkeypatch):
    """No signal, no new stamp: the session still asks the database once its look-up is older than
    SESSION_STAMP_SECONDS."""
    _device_queries(client)
    TOTPDevice.objects.filter(pk=verified.pk).update(confirmed=False)
    assert client.get("/cases/").status_code == 200  # within the age: the stamp is trusted
    clock = two_factor.time.time()
    monkeypatch.setattr(two_factor.time, "time", lambda: clock + two_factor.SESSION_STAMP_SECONDS)
    assert client.get("/cases/")["Location"] == SETUP


def test_another_sessions_sign_in_makes_this_one_look_again_once(client, verified, engineer):
    _device_queries(client)
    stamp = User.objects.get(pk=engineer.pk).second_factor_stamp
    verified.save()  # what a code check in another session does
    assert User.objects.get(pk=engineer.pk).second_factor_stamp == stamp + 1
    assert _device_queries(client) == 1
    assert _device_queries(client) == 0


def test_the_request_user_is_resolved_once_with_its_verification(rf, engineer, verified, client):
    """The middleware puts the user itself on the request (not a lazy object around Django's lazy
    object): verified with the session's device; anonymous, and unverified, with an empty session."""
    from django.contrib.auth.models import AnonymousUser
    from django.utils.functional import LazyObject

    from accounts.middleware import StampedOTPMiddleware

    seen = []

    def view(request):  # type: ignore[no-untyped-def]
        seen.append(request.user)
        return None

    middleware = StampedOTPMiddleware(view)
    for session in (client.session, type(client.session)()):
        request = rf.get("/cases/")
        request.session = session
        middleware(request)
    verified_user, anonymous = seen
    assert not isinstance(verified_user, LazyObject) and verified_user == engineer
    assert verified_user.is_verified() and verified_user.otp_device == verified
    assert isinstance(anonymous, AnonymousUser) and not anonymous.is_verified()
