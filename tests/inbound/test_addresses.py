"""Reply addresses: every notification e-mail carries its reader's own address as Reply-To, threaded by
Message-ID and References; the address is signed, bound to the case and the person, revocable, and the
same one the API gives."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from cases import services
from cases.errors import NotAllowed
from cases.models import Case
from communications.models import EmailDelivery
from inbound import addresses
from inbound.services import reply_address_revoke
from tests.inbound.conftest import DOMAIN, notify_latest, sent_to

pytestmark = pytest.mark.django_db


def test_notification_email_carries_the_readers_reply_address_and_threading(
    mailoutbox, scoped_case, customer, engineer
):
    services.timeline_add(actor=engineer, case=scoped_case, body="Please upload the minidumps.")
    notify_latest("message_added")
    [sent] = sent_to(customer.email)
    address = addresses.reply_address_for(case=scoped_case, user=customer)
    assert sent.reply_to == [address]
    assert address.startswith(f"case+{scoped_case.number.lower()}.") and address.endswith("@" + DOMAIN)
    delivery = EmailDelivery.objects.get(to=customer.email, event__action="message_added")
    assert sent.extra_headers["Message-ID"] == f"<{delivery.message_id}>"
    root = f"<case.{scoped_case.number.lower()}@{DOMAIN}>"
    assert sent.extra_headers["References"] == root and sent.extra_headers["In-Reply-To"] == root
    # RFC 3834: out-of-office responders do not answer it.
    assert sent.extra_headers["Auto-Submitted"] == "auto-generated"
    assert "Reply to this e-mail to write on the case" in sent.body


def test_each_person_gets_their_own_address(mailoutbox, case, customer, engineer, account_manager):
    services.timeline_add(actor=customer, case=case, body="Uploaded")
    notify_latest("message_added")
    replies = {message.to[0]: message.reply_to[0] for message in mailoutbox}
    assert set(replies) == {engineer.email, account_manager.email}
    assert len(set(replies.values())) == 2


def test_staff_reply_to_an_internal_event_is_a_note_and_the_other_address_is_named(
    mailoutbox, case, engineer, other_engineer
):
    services.timeline_add(actor=other_engineer, case=case, body="Suspect the DLP agent", internal=True)
    notify_latest("note_added")
    [sent] = sent_to(engineer.email)
    note = addresses.reply_address_for(case=case, user=engineer, kind=addresses.NOTE)
    reply = addresses.reply_address_for(case=case, user=engineer)
    assert sent.reply_to == [note]
    assert "adds an internal note" in sent.body and reply in sent.body


def test_staff_reply_to_a_customer_visible_event_writes_to_the_customer(mailoutbox, case, customer, engineer):
    services.timeline_add(actor=customer, case=case, body="Any news?")
    notify_latest("message_added")
    [sent] = sent_to(engineer.email)
    assert sent.reply_to == [addresses.reply_address_for(case=case, user=engineer)]
    assert addresses.reply_address_for(case=case, user=engineer, kind=addresses.NOTE) in sent.body


def test_api_gives_the_callers_reply_address_equal_to_their_reply_to(
    mailoutbox, login_api, scoped_case, customer, engineer
):
    services.timeline_add(actor=engineer, case=scoped_case, body="Please upload the minidumps.")
    notify_latest("message_added")
    [sent] = sent_to(customer.email)
    answer = login_api(customer).get(f"/api/cases/{scoped_case.number}/")
    assert answer.status_code == 200
    assert answer.json()["reply_address"] == sent.reply_to[0]
    assert login_api(engineer).get(f"/api/cases/{scoped_case.number}/").json()["reply_address"] == (
        addresses.reply_address_for(case=scoped_case, user=engineer)
    )


def test_api_reply_address_is_null_when_the_portal_takes_no_mail(settings, login_api, case, customer):
    settings.INBOUND_DOMAIN = ""
    assert login_api(customer).get(f"/api/cases/{case.number}/").json()["reply_address"] is None


def test_no_reply_to_without_inbound_domain(settings, mailoutbox, case, customer, engineer):
    settings.INBOUND_DOMAIN = ""
    services.timeline_add(actor=customer, case=case, body="Hello")
    notify_latest("message_added")
    [sent] = sent_to(engineer.email)
    assert sent.reply_to == [] and "Reply to this e-mail" not in sent.body
    assert "Message-ID" in sent.extra_headers  # threading still works


def test_address_check_ok(case, customer):
    check = addresses.reply_address_check(addresses.reply_address_for(case=case, user=customer))
    assert (check.outcome, check.case, check.user, check.kind) == ("ok", case, customer, addresses.REPLY)


def test_address_is_case_insensitive(case, customer):
    address = addresses.reply_address_for(case=case, user=customer)
    assert addresses.reply_address_check(address.upper()).outcome == "ok"


@pytest.mark.parametrize(
    "tamper",
    [
        lambda a: a.replace(".r0.", ".n0."),  # a customer making themselves a note address
        lambda a: a.replace(".r0.", ".r1."),  # a future generation
        lambda a: a[: a.index("@") - 1] + ("a" if a[a.index("@") - 1] != "a" else "b") + a[a.index("@") :],
        lambda a: "case+nonsense@" + DOMAIN,
        lambda a: a.replace("cas-", "cax-"),
    ],
    ids=["kind", "generation", "signature", "garbage", "case"],
)
def test_forged_addresses_are_unknown(case, customer, tamper):
    address = tamper(addresses.reply_address_for(case=case, user=customer))
    assert addresses.reply_address_check(address).outcome == "token_unknown"


def test_address_of_another_users_id_is_unknown(case, customer, other_customer):
    address = addresses.reply_address_for(case=case, user=customer)
    forged = address.replace(f".{customer.pk}.", f".{other_customer.pk}.")
    assert addresses.reply_address_check(forged).outcome == "token_unknown"


def test_old_secret_key_still_checks(settings, case, customer):
    address = addresses.reply_address_for(case=case, user=customer)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-for-the-rotation-test-0123456789"
    assert addresses.reply_address_check(address).outcome == "ok"


def test_revoked_address_is_refused_and_a_new_one_given(mailoutbox, case, customer, engineer):
    old = addresses.reply_address_for(case=case, user=customer)
    new = reply_address_revoke(actor=engineer, case=case, user=customer)
    assert new != old
    assert addresses.reply_address_check(old).outcome == "token_revoked"
    assert addresses.reply_address_check(new).outcome == "ok"
    assert addresses.reply_address_for(case=case, user=customer) == new


def test_customers_cannot_revoke(case, customer):

    with pytest.raises(NotAllowed):
        reply_address_revoke(actor=customer, case=case, user=customer)


def test_address_of_someone_who_lost_access_is_revoked(case, customer, other_organisation):
    address = addresses.reply_address_for(case=case, user=customer)
    customer.organisation = other_organisation
    customer.save()
    assert addresses.reply_address_check(address).outcome == "token_revoked"


def test_address_of_a_deactivated_user_is_revoked(case, customer):
    address = addresses.reply_address_for(case=case, user=customer)
    customer.is_active = False
    customer.save()
    assert addresses.reply_address_check(address).outcome == "token_revoked"


def test_address_expires_after_its_case_closed(settings, case, customer):
    address = addresses.reply_address_for(case=case, user=customer)
    closed = timezone.now() - timedelta(days=settings.INBOUND_REPLY_EXPIRY_DAYS + 1)
    Case.objects.filter(pk=case.pk).update(state="closed", closed_at=closed)
    assert addresses.reply_address_check(address).outcome == "token_expired"
    Case.objects.filter(pk=case.pk).update(closed_at=timezone.now() - timedelta(days=1))
    assert addresses.reply_address_check(address).outcome == "ok"  # the case closes: a late reply still lands


def test_addresses_fit_the_local_part_limit(case, customer):
    local = addresses.reply_address_for(case=case, user=customer).partition("@")[0]
    assert len(local) <= 64  # RFC 5321


def test_revoke_command(case, customer):

    old = addresses.reply_address_for(case=case, user=customer)
    out = StringIO()
    call_command("inbound_revoke", case.number.lower(), customer.username, stdout=out)
    new = addresses.reply_address_for(case=case, user=customer)
    assert new in out.getvalue() and new != old
    assert addresses.reply_address_check(old).outcome == "token_revoked"
