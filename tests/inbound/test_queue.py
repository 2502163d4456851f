"""The staff queue at /mail/: who may see it, and its three actions (add to a case, open a case,
discard), each of which handles a message once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, State, TimelineEntry
from inbound import addresses
from inbound.models import InboundMessage
from inbound.receiving import inbound_retention_apply
from inbound.services import inbound_message_discard
from tests.inbound.conftest import SUPPORT, deliver, email
from uploads.files import upload_storage
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def stranger_mail(db) -> InboundMessage:
    raw = email(
        to=SUPPORT,
        sender="Dana Li <dana@partner.example>",
        subject="Crash on our kiosk",
        body="Our kiosk shows 0x7E at boot.",
        files=[("kiosk.log", b"boot log " * 10)],
    )
    return deliver(raw, to=SUPPORT, mail_from="dana@partner.example")


def test_queue_lists_waiting_mail_for_engineers_only(
    client, stranger_mail, engineer, customer, account_manager
):
    client.force_login(engineer)
    page = client.get("/mail/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Crash on our kiosk" in text and "The sender is not a customer user of the portal" in text
    for outsider in (customer, account_manager):
        client.force_login(outsider)
        assert client.get("/mail/").status_code == 403
        assert client.get(f"/mail/{stranger_mail.pk}/").status_code == 404
        assert client.get(f"/mail/{stranger_mail.pk}/original.eml").status_code == 404
    client.logout()
    assert client.get("/mail/").status_code == 302


def test_detail_shows_the_text_and_files_and_the_original_downloads(client, stranger_mail, engineer):
    client.force_login(engineer)
    page = client.get(f"/mail/{stranger_mail.pk}/").content.decode()
    assert "Our kiosk shows 0x7E at boot." in page and "kiosk.log" in page
    original = client.get(f"/mail/{stranger_mail.pk}/original.eml")
    assert original.status_code == 200 and original["Content-Type"] == "message/rfc822"
    assert "attachment" in original["Content-Disposition"]
    assert b"Our kiosk shows 0x7E at boot." in original.content


def test_attach_unknown_senders_mail_as_an_internal_note(client, stranger_mail, case, engineer):
    client.force_login(engineer)
    answer = client.post(
        f"/mail/{stranger_mail.pk}/attach/", {"case_number": case.number.lower(), "internal": "on"}
    )
    assert answer.status_code == 302 and answer["Location"].startswith(f"/cases/{case.number}/#entry-")
    stranger_mail.refresh_from_db()
    assert (stranger_mail.state, stranger_mail.handled_by, stranger_mail.case) == ("attached", engineer, case)
    entry = stranger_mail.timeline_entry
    assert (entry.author, entry.internal, entry.via) == (engineer, True, "email")
    assert entry.body.startswith("E-mail from Dana Li <dana@partner.example>, received ")
    assert "Our kiosk shows 0x7E at boot." in entry.body
    assert not Upload.objects.filter(case=case).exists()  # an internal note's files stay in the original
    # the case page links the original for staff
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert f"/mail/entry/{entry.pk}/original.eml" in page and "by e-mail" in page
    assert client.get(f"/mail/entry/{entry.pk}/original.eml").status_code == 200


def test_attach_as_a_message_uploads_the_files(client, stranger_mail, case, engineer):
    client.force_login(engineer)
    client.post(f"/mail/{stranger_mail.pk}/attach/", {"case_number": case.number})
    stranger_mail.refresh_from_db()
    assert stranger_mail.timeline_entry.internal is False
    assert Upload.objects.get(case=case).filename == "kiosk.log"


def test_a_customers_stray_reply_attached_is_written_by_the_customer(
    client, scoped_case, customer, engineer, settings
):
    settings.INBOUND_REQUIRE_AUTH = True  # a customer's new request is held for staff
    message = deliver(email(to=SUPPORT, body="The dump is on its way."), to=SUPPORT)
    assert message.reason == InboundMessage.Reason.UNAUTHENTICATED
    client.force_login(engineer)
    client.post(f"/mail/{message.pk}/attach/", {"case_number": scoped_case.number})
    message.refresh_from_db()
    assert (
        message.timeline_entry.author == customer and message.timeline_entry.body == "The dump is on its way."
    )
    scoped_case.refresh_from_db()
    assert scoped_case.state == State.INVESTIGATING  # as their reply would have moved it


def test_customer_of_the_case_customer_s_reply_on_a_customer_page_never_sees_the_original_link(
    client, scoped_case, customer
):
    address = addresses.reply_address_for(case=scoped_case, user=customer)
    message = deliver(email(to=address, body="Uploaded."), to=address)
    client.force_login(customer)
    page = client.get(f"/cases/{scoped_case.number}/").content.decode()
    assert "by e-mail" in page and "original.eml" not in page
    assert client.get(f"/mail/entry/{message.timeline_entry_id}/original.eml").status_code == 404


def test_attach_to_an_unknown_case_says_so(client, stranger_mail, engineer):
    client.force_login(engineer)
    answer = client.post(f"/mail/{stranger_mail.pk}/attach/", {"case_number": "CAS-99999-XXXXXX"})
    assert answer.status_code == 400 and "No case with this number." in answer.content.decode()
    stranger_mail.refresh_from_db()
    assert stranger_mail.state == InboundMessage.State.QUEUED


def test_open_a_case_from_the_mail(client, stranger_mail, engineer, organisation):
    client.force_login(engineer)
    answer = client.post(
        f"/mail/{stranger_mail.pk}/open-case/",
        {"organisation": organisation.pk, "title": "Kiosk crashes 0x7E"},
    )
    case = Case.objects.get(title="Kiosk crashes 0x7E")
    assert answer.status_code == 302 and answer["Location"] == f"/cases/{case.number}/"
    assert case.description == "Our kiosk shows 0x7E at boot." and case.opened_by == engineer
    assert Upload.objects.get(case=case).filename == "kiosk.log"
    stranger_mail.refresh_from_db()
    assert (stranger_mail.state, stranger_mail.case) == ("case_opened", case)


def test_discard_keeps_the_row_and_the_original(client, stranger_mail, engineer):
    client.force_login(engineer)
    client.post(f"/mail/{stranger_mail.pk}/discard/", {"note": "spam"})
    stranger_mail.refresh_from_db()
    assert stranger_mail.state == "discarded" and "spam" in stranger_mail.detail
    assert client.get(f"/mail/{stranger_mail.pk}/original.eml").status_code == 200


def test_a_handled_message_cannot_be_handled_again(client, stranger_mail, case, engineer):
    client.force_login(engineer)
    client.post(f"/mail/{stranger_mail.pk}/discard/", {})
    answer = client.post(f"/mail/{stranger_mail.pk}/attach/", {"case_number": case.number})
    assert answer.status_code == 400 and "already handled" in answer.content.decode()
    assert not TimelineEntry.objects.filter(case=case, via="email").exists()


def test_all_mail_tab_shows_every_state(client, stranger_mail, case, customer, engineer):
    address = addresses.reply_address_for(case=case, user=customer)
    deliver(email(to=address, body="posted"), to=address)
    client.force_login(engineer)
    assert 'class="mail-state mail-posted"' not in client.get("/mail/").content.decode()
    page = client.get("/mail/?state=all").content.decode()
    assert 'class="mail-state mail-posted"' in page and 'class="mail-state mail-queued"' in page


def test_retention_deletes_handled_originals(settings, stranger_mail, engineer):

    inbound_message_discard(actor=engineer, message=stranger_mail)
    assert inbound_retention_apply() == 0
    later = timezone.now() + timedelta(days=settings.INBOUND_RETENTION_DAYS + 1)
    assert inbound_retention_apply(now=later) == 1
    stranger_mail.refresh_from_db()
    assert stranger_mail.content_deleted_at is not None
    assert not upload_storage().exists(stranger_mail.storage_name)
