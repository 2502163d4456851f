"""The case as a conversation: each customer act moves the case, the resolution is a record the customer
answers (once), silence closes the case after N business days, drafts never reach a customer, a closed
case takes no customer posts, and e-mails carry the content in the reader's language with SITE_URL links.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime

import pytest
from django.core import mail
from django.core.cache import cache
from django.db import connection

from accounts.models import User
from cases import conversation, services
from cases.errors import InvalidInput, InvalidState, NotAllowed
from cases.models import AuditEvent, ResolutionProposal, ResolutionType, State, TimelineEntry
from communications.models import Notification
from communications.services import evidence_item_add
from communications.tasks import notify_case_event
from oversight.clocks import paused_intervals
from oversight.models import BusinessCalendar, Holiday
from oversight.selectors import SLA_CONFIG_CACHE_KEY, _case_events
from tests.factories import CustomerFactory
from uploads.services import upload_store_bytes

pytestmark = pytest.mark.django_db


def _notify(action: str) -> list[str]:
    """Run the notification task of the newest event of this kind; the addresses e-mailed."""

    before = len(mail.outbox)
    event = AuditEvent.objects.filter(action=action).latest("id")
    notify_case_event(event.pk)
    return sorted(m.to[0] for m in mail.outbox[before:])


@pytest.fixture
def investigating(scoped_case, customer):
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True)
    scoped_case.refresh_from_db()
    return scoped_case


@pytest.fixture
def proposed(investigating, engineer):
    services.case_transition(
        actor=engineer, case=investigating, name="propose_resolution", message="Remove SfUemIsoSpace.sys."
    )
    investigating.refresh_from_db()
    return investigating


# -- the scope ------------------------------------------------------------------------------------------------


def test_sending_the_scope_tells_the_customer_with_its_text(scoped_case, customer, mailoutbox):
    assert _notify("send_scope") == [customer.email]
    mail = mailoutbox[0]
    assert "Terminals crash with 0xBE." in mail.body and "Upload the minidumps" in mail.body
    assert f"/cases/{scoped_case.number}/#scope" in mail.body
    assert Notification.objects.get(recipient=customer).event.action == "send_scope"


def test_accepting_the_scope_starts_the_investigation_and_tells_the_engineer(
    scoped_case, customer, engineer, mailoutbox
):
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True, comment="Agreed")
    scoped_case.refresh_from_db()
    assert scoped_case.state == State.INVESTIGATING
    event = AuditEvent.objects.get(action="scope_accepted")
    assert (event.from_state, event.to_state) == (State.AWAITING_CUSTOMER, State.INVESTIGATING)
    assert _notify("scope_accepted") == [engineer.email]
    assert "Agreed" in mailoutbox[0].body
    assert TimelineEntry.objects.get(event=event).body == "Agreed"


def test_objecting_returns_the_case_to_scoping_with_the_objection_shown(
    scoped_case, customer, engineer, client
):
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=False, comment="Not only 0xBE")
    scoped_case.refresh_from_db()
    assert scoped_case.state == State.SCOPING
    client.force_login(engineer)
    page = client.get(f"/cases/{scoped_case.number}/").content.decode()
    assert "Not only 0xBE" in page and "revise it and send it again" in page
    # Revised and sent again, the customer answers the new version.
    services.scope_save(actor=engineer, case=scoped_case, problem_definition="p", scope="s", next_steps="n")
    services.case_transition(actor=engineer, case=scoped_case, name="send_scope")
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True)
    scoped_case.refresh_from_db()
    assert scoped_case.state == State.INVESTIGATING


def test_the_page_offers_only_what_can_be_done_now(scoped_case, customer, client):
    client.force_login(customer)
    url = f"/cases/{scoped_case.number}/"
    assert "Accept the scope" in client.get(url).content.decode()
    client.post(url + "scope/answer/", {"accepted": "1"})
    page = client.get(url).content.decode()
    assert "Accept the scope" not in page and 'data-decision="accepted"' in page


# -- the customer's acts move the case -----------------------------------------------------------------------


def test_a_customer_message_while_awaiting_them_resumes_the_investigation(
    investigating, customer, engineer, mailoutbox
):
    services.case_transition(
        actor=engineer, case=investigating, name="request_customer", message="Event log?"
    )
    services.timeline_add(actor=customer, case=investigating, body="Here is what I see")
    investigating.refresh_from_db()
    assert investigating.state == State.INVESTIGATING
    assert _notify("message_added") == [engineer.email]
    # The service-level clocks paused while waiting and run again from the answer.
    pauses = paused_intervals(_case_events([investigating.pk])[investigating.pk])
    message_at = AuditEvent.objects.get(action="message_added").created_at
    assert pauses[-1][1] == message_at


def test_a_stored_upload_from_the_customer_resumes_the_investigation(investigating, customer, engineer):
    services.case_transition(actor=engineer, case=investigating, name="request_customer", message="Dumps?")
    upload_store_bytes(actor=customer, case=investigating, filename="notes.txt", data=b"kd> !analyze -v\n")
    investigating.refresh_from_db()
    assert investigating.state == State.INVESTIGATING
    event = AuditEvent.objects.get(action="upload_stored")
    assert event.to_state == State.INVESTIGATING
    assert _notify("upload_stored") == [engineer.email]


def test_a_staff_message_does_not_move_a_case_waiting_on_the_customer(investigating, engineer):
    services.case_transition(actor=engineer, case=investigating, name="request_customer", message="Dumps?")
    services.timeline_add(actor=engineer, case=investigating, body="Reminder: the dumps")
    investigating.refresh_from_db()
    assert investigating.state == State.AWAITING_CUSTOMER


def test_asking_the_customer_needs_to_say_what_is_needed(investigating, engineer):
    with pytest.raises(InvalidInput):
        services.case_transition(actor=engineer, case=investigating, name="request_customer")
    investigating.refresh_from_db()
    assert investigating.state == State.INVESTIGATING


def test_a_file_request_reaches_the_customer_only_once_the_scope_is_sent(case, engineer, customer):

    evidence_item_add(actor=engineer, case=case, preset="system_log")
    assert _notify("evidence_requested") == []  # part of the scope being written
    services.scope_save(actor=engineer, case=case, problem_definition="p", scope="s", next_steps="n")
    services.case_transition(actor=engineer, case=case, name="send_scope")
    evidence_item_add(actor=engineer, case=case, preset="minidumps")
    assert _notify("evidence_requested") == [customer.email]


# -- the proposed resolution ---------------------------------------------------------------------------------


def test_a_proposal_is_a_record_the_customer_is_told_of(proposed, customer, mailoutbox):
    proposal = ResolutionProposal.objects.get(case=proposed)
    assert proposal.pending and proposal.text == "Remove SfUemIsoSpace.sys."
    assert proposed.state == State.PENDING_CONFIRMATION
    assert _notify("propose_resolution") == [customer.email]
    body = mailoutbox[0].body
    assert "Remove SfUemIsoSpace.sys." in body and "no response" in body and "#resolution" in body
    entry = TimelineEntry.objects.get(event__action="propose_resolution")
    assert entry.body == "Remove SfUemIsoSpace.sys." and not entry.internal


def test_confirming_tells_the_engineer_and_fills_the_close_form(proposed, customer, engineer, client):
    conversation.resolution_answer(actor=customer, case=proposed, accepted=True, comment="Stable for a week")
    assert _notify("resolution_accepted") == [engineer.email]
    client.force_login(engineer)
    assert "confirmed the proposed resolution" in client.get(f"/cases/{proposed.number}/").content.decode()
    form = client.get(f"/cases/{proposed.number}/close/").content.decode()
    assert "Remove SfUemIsoSpace.sys." in form
    # Closing with no resolution written takes the confirmed proposal.
    summary = services.case_close(
        actor=engineer,
        case=proposed,
        problem_description="0xBE",
        analysis="A filter driver",
        resolution="",
        resolution_type=ResolutionType.RESOLVED,
    )
    assert summary.resolution == "Remove SfUemIsoSpace.sys."


def test_rejecting_needs_a_comment_and_returns_the_case_to_investigating(proposed, customer, engineer):
    with pytest.raises(InvalidInput):
        conversation.resolution_answer(actor=customer, case=proposed, accepted=False)
    conversation.resolution_answer(actor=customer, case=proposed, accepted=False, comment="Crashed again")
    proposed.refresh_from_db()
    assert proposed.state == State.INVESTIGATING
    assert ResolutionProposal.objects.get(case=proposed).answer == "rejected"
    assert _notify("resolution_rejected") == [engineer.email]


def test_bad_answers_change_nothing(proposed, customer, engineer, other_customer, investigating):
    with pytest.raises(NotAllowed):  # staff do not answer for the customer
        conversation.resolution_answer(actor=engineer, case=proposed, accepted=True)
    with pytest.raises(NotAllowed):  # another organisation's customer
        conversation.resolution_answer(actor=other_customer, case=proposed, accepted=True)
    conversation.resolution_answer(actor=customer, case=proposed, accepted=True)
    with pytest.raises(InvalidState, match="already answered"):
        conversation.resolution_answer(
            actor=customer, case=proposed, accepted=False, comment="changed my mind"
        )
    proposal = ResolutionProposal.objects.get(case=proposed)
    assert proposal.answer == "accepted" and proposal.comment == ""


def test_answering_when_nothing_is_proposed_is_refused(investigating, customer):
    with pytest.raises(InvalidState, match="no proposed resolution"):
        conversation.resolution_answer(actor=customer, case=investigating, accepted=True)


def test_resuming_withdraws_the_pending_proposal(proposed, customer, engineer):
    services.case_transition(actor=engineer, case=proposed, name="resume_investigation")
    assert ResolutionProposal.objects.get(case=proposed).withdrawn_at is not None
    with pytest.raises(InvalidState):
        conversation.resolution_answer(actor=customer, case=proposed, accepted=True)
    assert _notify("resume_investigation") == [customer.email]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL (DATABASE_URL) for real concurrency"
)
def test_two_customers_answering_at_once_one_answer_counts(organisation, customer, engineer):
    colleague = CustomerFactory(username="carol", organisation=organisation)
    case = services.case_create(
        actor=engineer, organisation=organisation, title="t", customer_contact=customer, owner=engineer
    )
    services.scope_save(actor=engineer, case=case, problem_definition="p", scope="s", next_steps="n")
    services.case_transition(actor=engineer, case=case, name="send_scope")
    conversation.scope_acknowledge(actor=customer, case=case, accepted=True)
    services.case_transition(actor=engineer, case=case, name="propose_resolution", message="Fix")
    barrier, outcomes = threading.Barrier(2), []

    def answer(person: User, accepted: bool) -> None:
        try:
            barrier.wait()
            conversation.resolution_answer(actor=person, case=case, accepted=accepted, comment="x")
            outcomes.append("counted")
        except InvalidState as error:
            outcomes.append(error.message)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=args) for args in ((customer, True), (colleague, False))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=len)[0] == "counted"
    assert "already answered" in sorted(outcomes, key=len)[1]
    assert ResolutionProposal.objects.filter(case=case).exclude(answer="").count() == 1


# -- no answer: reminder, then "no response" -------------------------------------------------------------------

FRIDAY = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def _proposed_on(case, when: datetime) -> ResolutionProposal:
    proposal = ResolutionProposal.objects.get(case=case)
    ResolutionProposal.objects.filter(pk=proposal.pk).update(proposed_at=when)
    proposal.refresh_from_db()
    return proposal


def test_unanswered_proposal_is_reminded_then_closed_as_no_response(proposed, customer, engineer, mailoutbox):
    _proposed_on(proposed, FRIDAY)
    # Weekend and the first two business days: nothing yet.
    assert conversation.resolutions_sweep(now=datetime(2026, 12, 1, 23, 0, tzinfo=UTC)).reminded == 0
    # Three business days later (Wednesday): one reminder, never two.
    wednesday = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert conversation.resolutions_sweep(now=wednesday).reminded == 1
    assert conversation.resolutions_sweep(now=wednesday).reminded == 0
    assert _notify("resolution_reminder") == [customer.email]
    assert "2026-12-04" in mailoutbox[-1].body  # the day the case closes without an answer
    # Five business days later (next Friday): closed as "no response", both sides told.
    result = conversation.resolutions_sweep(now=datetime(2026, 12, 4, 10, 0, tzinfo=UTC))
    assert result.closed == 1
    proposed.refresh_from_db()
    assert proposed.state == State.CLOSED
    summary = proposed.summaries.get()
    assert summary.resolution_type == ResolutionType.NO_RESPONSE
    assert summary.resolution == "Remove SfUemIsoSpace.sys." and summary.author is None
    assert _notify("close") == sorted([customer.email, engineer.email])


def test_the_deadline_counts_business_days_of_the_organisations_calendar(proposed):
    proposal = _proposed_on(proposed, FRIDAY)
    calendar = BusinessCalendar.objects.get(organisation__isnull=True)
    Holiday.objects.create(calendar=calendar, date=date(2026, 12, 1))
    cache.delete(SLA_CONFIG_CACHE_KEY)
    deadlines = conversation.resolution_deadlines(proposal=proposal)
    assert deadlines.close_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Tuesday 1 December is a holiday
    assert conversation.resolutions_sweep(now=datetime(2026, 12, 4, 10, 0, tzinfo=UTC)).closed == 0


def test_an_answered_or_withdrawn_proposal_never_closes_the_case(proposed, customer):
    _proposed_on(proposed, FRIDAY)
    conversation.resolution_answer(actor=customer, case=proposed, accepted=True)
    assert conversation.resolutions_sweep(now=datetime(2026, 12, 31, tzinfo=UTC)).closed == 0
    proposed.refresh_from_db()
    assert proposed.state == State.PENDING_CONFIRMATION


# -- privacy and closed cases ----------------------------------------------------------------------------------


def test_customers_never_read_a_scope_draft(scoped_case, engineer, customer, client, login_api):
    services.scope_save(
        actor=engineer, case=scoped_case, problem_definition="DRAFT-ONLY", scope="s", next_steps="n"
    )
    client.force_login(customer)
    page = client.get(f"/cases/{scoped_case.number}/").content.decode()
    assert "DRAFT-ONLY" not in page and "Terminals crash with 0xBE." in page
    versions = login_api(customer).get(f"/api/cases/{scoped_case.number}/scope/").json()
    assert [v["version"] for v in versions] == [1]
    client.force_login(engineer)
    assert "DRAFT-ONLY" in client.get(f"/cases/{scoped_case.number}/").content.decode()
    assert [
        v["version"] for v in login_api(engineer).get(f"/api/cases/{scoped_case.number}/scope/").json()
    ] == [
        2,
        1,
    ]


def test_a_case_never_sent_shows_customers_no_scope(case, engineer, customer, client):
    services.scope_save(actor=engineer, case=case, problem_definition="DRAFT-ONLY", scope="s", next_steps="n")
    client.force_login(customer)
    page = client.get(f"/cases/{case.number}/").content.decode()
    assert "DRAFT-ONLY" not in page and "has not sent the scope yet" in page


def test_nobody_but_staff_posts_on_a_closed_case(investigating, engineer, customer, client, login_api):
    services.case_close(
        actor=engineer,
        case=investigating,
        problem_description="p",
        analysis="a",
        resolution="r",
        resolution_type=ResolutionType.RESOLVED,
    )
    with pytest.raises(InvalidState, match="reopen"):
        services.timeline_add(actor=customer, case=investigating, body="It is back")
    response = login_api(customer).post(
        f"/api/cases/{investigating.number}/timeline/", {"body": "It is back"}, format="json"
    )
    assert response.status_code == 400 and "reopen" in response.json()["detail"]
    client.force_login(customer)
    page = client.get(f"/cases/{investigating.number}/").content.decode()
    assert "takes no more messages" in page and 'name="body"' not in page
    services.timeline_add(actor=engineer, case=investigating, body="Noted after closing")
    assert not TimelineEntry.objects.filter(body="It is back").exists()


# -- e-mails: the reader's language, the site's address --------------------------------------------------------


@pytest.mark.parametrize(("language", "label"), [("en", "Problem definition"), ("zh-hans", "问题定义")])
def test_emails_speak_the_readers_language_and_link_to_the_site(
    scoped_case, customer, settings, mailoutbox, language, label
):
    settings.SITE_URL = "https://support.example.com"
    User.objects.filter(pk=customer.pk).update(language=language)
    _notify("send_scope")
    mail = mailoutbox[0]
    assert label in mail.body and label in mail.alternatives[0][0]
    assert f"https://support.example.com/cases/{scoped_case.number}/" in mail.body
    assert "127.0.0.1:8000" not in mail.body + mail.alternatives[0][0]


# -- the API ---------------------------------------------------------------------------------------------------


def test_the_api_carries_the_proposal_and_its_answer(proposed, customer, engineer, other_customer, login_api):
    base = f"/api/cases/{proposed.number}"
    proposal = login_api(customer).get(base + "/").json()["resolution_proposal"]
    assert proposal["text"] == "Remove SfUemIsoSpace.sys." and proposal["answer"] is None
    assert login_api(engineer).post(base + "/resolution/answer/", {"accepted": True}).status_code == 403
    assert login_api(other_customer).post(base + "/resolution/answer/", {"accepted": True}).status_code == 404
    refused = login_api(customer).post(base + "/resolution/answer/", {"accepted": False}, format="json")
    assert refused.status_code == 400 and "why" in refused.json()["detail"]
    answered = login_api(customer).post(
        base + "/resolution/answer/", {"accepted": True, "comment": "Fixed"}, format="json"
    )
    assert answered.status_code == 200
    assert answered.json()["answer"] == "accepted" and answered.json()["comment"] == "Fixed"
    twice = login_api(customer).post(base + "/resolution/answer/", {"accepted": True}, format="json")
    assert twice.status_code == 400 and "already answered" in twice.json()["detail"]
    body = login_api(engineer).get(base + "/").json()["resolution_proposal"]
    assert body["answer"] == "accepted" and body["answered_at"]


def test_a_case_with_no_proposal_has_none_in_the_api(scoped_case, customer, login_api):
    assert login_api(customer).get(f"/api/cases/{scoped_case.number}/").json()["resolution_proposal"] is None
