"""Sign-in throttling that cannot be turned on everyone (issue 14, item 1).

Reported: five wrong passwords for a user name that does not exist locked every user out from that
address; behind nginx every attempt was recorded as 127.0.0.1; each attempt during a lockout restarted it;
the API told a locked user "Unable to log in with provided credentials".
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from accounts.throttling import client_address
from cases.models import AuditEvent
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
PROXY = "10.0.0.2"  # nginx, as gunicorn sees it


def _fail(client, username: str, times: int = 5, **meta) -> None:
    for _ in range(times):
        answer = client.post(LOGIN, {"username": username, "password": "wrong-password"}, **meta)
        assert answer.status_code in (200, 429)


def _sign_in(client, username: str, **meta):
    return client.post(LOGIN, {"username": username, "password": PASSWORD}, **meta)


def _via_nginx(client_ip: str, spoofed: str = "") -> dict[str, str]:
    forwarded = f"{spoofed}, {client_ip}" if spoofed else client_ip
    return {"REMOTE_ADDR": PROXY, "HTTP_X_FORWARDED_FOR": forwarded}


def test_wrong_passwords_for_a_name_that_does_not_exist_lock_nobody(client, customer, engineer):
    _fail(client, "no-such-user")
    assert _sign_in(client, "alice").status_code == 302  # same address, another name: signed in
    client.logout()
    assert _sign_in(client, "engineer").status_code == 302


def test_five_wrong_passwords_lock_that_name_from_that_address_only(client, customer):
    _fail(client, "alice", REMOTE_ADDR="203.0.113.7")
    locked = _sign_in(client, "alice", REMOTE_ADDR="203.0.113.7")
    assert locked.status_code == 429
    assert "Please try again in 15 minutes" in locked.content.decode()
    assert int(locked["Retry-After"]) <= 15 * 60
    # Alice at her own desk is not locked out by whoever guessed at her name elsewhere.
    assert _sign_in(client, "alice", REMOTE_ADDR="198.51.100.20").status_code == 302


def test_behind_the_proxy_each_client_is_its_own_address(client, customer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    _fail(client, "alice", **_via_nginx("203.0.113.7"))
    assert _sign_in(client, "alice", **_via_nginx("203.0.113.7")).status_code == 429
    assert _sign_in(client, "alice", **_via_nginx("198.51.100.20")).status_code == 302
    addresses = set(AccessAttempt.objects.values_list("ip_address", flat=True))
    assert addresses == {"203.0.113.7"}  # never the proxy's


def test_a_forged_forwarded_for_does_not_escape_the_lockout(client, customer, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):  # the attacker writes a new address in front each time; nginx appends the real one
        client.post(
            LOGIN,
            {"username": "alice", "password": "wrong"},
            **_via_nginx("203.0.113.7", spoofed=f"192.0.2.{n}"),
        )
    answer = _sign_in(client, "alice", **_via_nginx("203.0.113.7", spoofed="192.0.2.99"))
    assert answer.status_code == 429


def test_without_a_configured_proxy_forwarded_for_is_ignored(client, customer, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        client.post(LOGIN, {"username": "alice", "password": "wrong"}, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _sign_in(client, "alice", HTTP_X_FORWARDED_FOR="192.0.2.200").status_code == 429


@pytest.mark.parametrize(
    ("proxies", "meta", "expected"),
    [
        (0, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "1.2.3.4"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4"}, "1.2.3.4"),
        (2, {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 1.2.3.4, 10.0.0.2"}, "1.2.3.4"),
        (2, {"REMOTE_ADDR": "10.0.0.3", "HTTP_X_FORWARDED_FOR": "1.2.3.4"}, "10.0.0.3"),  # not via both
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "not-an-address"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2"}, "10.0.0.2"),
        (1, {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "2001:db8::1"}, "2001:db8::1"),
    ],
)
def test_client_address_trusts_only_the_configured_proxies(proxies, meta, expected, rf, settings):
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_address(rf.get("/", **meta)) == expected


def test_attempts_during_a_lockout_never_extend_it(client, customer):
    _fail(client, "alice")
    attempt = AccessAttempt.objects.get(username="alice")
    started = timezone.now() - timedelta(minutes=14)
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=started)
    for _ in range(3):  # the right password too
        assert _sign_in(client, "alice").status_code == 429
    attempt.refresh_from_db()
    assert attempt.attempt_time == started and attempt.failures_since_start == 5
    AccessAttempt.objects.filter(pk=attempt.pk).update(attempt_time=started - timedelta(minutes=2))
    assert _sign_in(client, "alice").status_code == 302  # the original 15 minutes are over


def test_the_lockout_page_counts_down_what_is_left(client, customer):
    _fail(client, "alice")
    AccessAttempt.objects.filter(username="alice").update(attempt_time=timezone.now() - timedelta(minutes=12))
    page = _sign_in(client, "alice")
    assert page.status_code == 429 and "Please try again in 3 minutes" in page.content.decode()


def test_the_api_tells_a_locked_user_they_are_locked_with_429(api_client, customer):
    answers = [api_client.post("/api/token/", {"username": "alice", "password": "wrong"}) for _ in range(5)]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 429]  # the fifth failure locks
    answer = api_client.post("/api/token/", {"username": "alice", "password": PASSWORD})
    assert answer.status_code == 429
    assert "Too many failed sign-ins" in answer.json()["detail"]
    assert "Unable to log in" not in answer.content.decode()


def test_an_address_failing_for_many_names_is_slowed_not_locked(client, api_client, customer, settings):
    settings.SIGNIN_ADDRESS_SLOW_AFTER = 4
    settings.SIGNIN_ADDRESS_DELAY = 10
    for name in ("ann", "ben", "cat", "dan"):  # a spray: one wrong password for each of many names
        _fail(client, name, times=1)
    slowed = _sign_in(client, "alice")  # the right password, but the address must wait its turn
    assert slowed.status_code == 429
    assert "Wait 10 seconds" in slowed.content.decode() and slowed["Retry-After"] == "10"
    token = api_client.post("/api/token/", {"username": "alice", "password": PASSWORD})
    assert token.status_code == 429 and token["Retry-After"] == "10"
    assert not AccessAttempt.objects.filter(username="alice").exists()  # not counted as a failure
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(seconds=11))
    assert _sign_in(client, "alice").status_code == 302  # slowed, never locked
    assert (
        _sign_in(client, "alice", REMOTE_ADDR="198.51.100.20").status_code == 302
    )  # other addresses: as ever


def test_a_few_mistyped_names_do_not_slow_an_address(client, customer, settings):
    settings.SIGNIN_ADDRESS_SLOW_AFTER = 10
    for name in ("alcie", "alice1", "Alice"):
        _fail(client, name, times=2)
    assert _sign_in(client, "alice").status_code == 302


def test_staff_lift_a_lockout_from_the_admin_and_it_is_audited(client, customer):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    _fail(client, "alice")
    assert _sign_in(client, "alice").status_code == 429
    attempt = AccessAttempt.objects.get(username="alice")
    staff = client.__class__()
    staff.force_login(admin)
    answer = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "lift_lockout", "_selected_action": [attempt.pk]},
        follow=True,
    )
    assert answer.status_code == 200 and "Lockout lifted for alice @ 127.0.0.1" in answer.content.decode()
    event = AuditEvent.objects.get(action="login_lockout_lifted")
    assert event.actor == admin
    assert event.data == {"username": "alice", "address": "127.0.0.1", "failures": 5}
    assert _sign_in(client, "alice").status_code == 302


def test_deleting_a_lockout_row_in_the_admin_is_the_same_audited_lift(client, customer):
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    _fail(client, "alice")
    attempt = AccessAttempt.objects.get(username="alice")
    staff = client.__class__()
    staff.force_login(admin)
    staff.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert not AccessAttempt.objects.exists()
    assert AuditEvent.objects.filter(action="login_lockout_lifted", actor=admin).count() == 1
