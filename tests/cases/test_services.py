"""Lifecycle services: role and state preconditions, audit events, numbers."""

from __future__ import annotations

import re

import pytest

from cases import conversation, services
from cases.errors import InvalidInput, InvalidState, NotAllowed
from cases.models import AuditEvent, ScopeAcknowledgement, State

pytestmark = pytest.mark.django_db

CLOSE = {
    "problem_description": "Blue screens 0xBE.",
    "analysis": "Memory-family codes across dumps.",
    "resolution": "Replaced a DIMM; confirmed by phone.",
    "resolution_type": "resolved",
}


def test_case_number_has_the_contract_shape(case):
    assert re.fullmatch(r"CAS-\d{5}-[A-Z0-9]{6}", case.number)


def test_case_numbers_are_unique_and_sequential(organisation, engineer):
    numbers = [
        services.case_create(actor=engineer, organisation=organisation, title=f"t{i}").number
        for i in range(5)
    ]
    assert len(set(numbers)) == 5
    digits = [int(n.split("-")[1]) for n in numbers]
    assert digits == sorted(digits) and len(set(digits)) == 5


def test_open_case_writes_audit_event(case, engineer):
    event = AuditEvent.objects.get(case=case, action="case_opened")
    assert event.actor == engineer and event.to_state == State.NEW


def test_customer_cannot_open_case(organisation, customer):
    with pytest.raises(NotAllowed):
        services.case_create(actor=customer, organisation=organisation, title="x")


def test_account_manager_opens_cases_only_for_their_organisations(
    account_manager, organisation, other_organisation
):
    assert (
        services.case_create(actor=account_manager, organisation=organisation, title="via TAM").state
        == State.NEW
    )
    with pytest.raises(NotAllowed):
        services.case_create(actor=account_manager, organisation=other_organisation, title="not theirs")


def test_contact_must_belong_to_the_organisation(organisation, other_customer, engineer):
    with pytest.raises(InvalidInput):
        services.case_create(
            actor=engineer, organisation=organisation, title="x", customer_contact=other_customer
        )


def test_empty_title_is_refused(organisation, engineer):
    with pytest.raises(InvalidInput):
        services.case_create(actor=engineer, organisation=organisation, title="   ")


def test_scope_save_versions_and_moves_new_case_to_scoping(case, engineer):
    first = services.scope_save(actor=engineer, case=case, problem_definition="p", scope="s", next_steps="n")
    second = services.scope_save(
        actor=engineer, case=case, problem_definition="p2", scope="s", next_steps="n"
    )
    case.refresh_from_db()
    assert (first.version, second.version) == (1, 2)
    assert case.state == State.SCOPING
    assert AuditEvent.objects.filter(case=case, action="scope_saved").count() == 2


def test_scope_needs_all_three_parts(case, engineer):
    with pytest.raises(InvalidInput):
        services.scope_save(actor=engineer, case=case, problem_definition="p", scope="", next_steps="n")


def test_send_scope_without_scope_is_refused(case, engineer):
    with pytest.raises(InvalidState):
        services.case_transition(actor=engineer, case=case, name="send_scope")
    case.refresh_from_db()
    assert case.state == State.NEW


def test_send_scope_sets_scoped_and_first_response(scoped_case):
    assert scoped_case.state == State.AWAITING_CUSTOMER
    assert scoped_case.scoped_at is not None and scoped_case.first_response_at is not None


def test_customer_answers_a_sent_scope_once(scoped_case, customer):
    conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=True)
    with pytest.raises(InvalidState, match="already answered"):
        conversation.scope_acknowledge(
            actor=customer, case=scoped_case, accepted=False, comment="Also the VPN issue"
        )
    assert list(ScopeAcknowledgement.objects.values_list("decision", flat=True)) == ["accepted"]


def test_objection_needs_a_comment(scoped_case, customer):
    with pytest.raises(InvalidInput):
        conversation.scope_acknowledge(actor=customer, case=scoped_case, accepted=False)


def test_scope_cannot_be_answered_before_it_is_sent(case, customer, engineer):
    services.scope_save(actor=engineer, case=case, problem_definition="p", scope="s", next_steps="n")
    with pytest.raises(InvalidState):
        conversation.scope_acknowledge(actor=customer, case=case, accepted=True)


def test_other_organisation_customer_cannot_answer_scope(scoped_case, other_customer):
    with pytest.raises(NotAllowed):
        conversation.scope_acknowledge(actor=other_customer, case=scoped_case, accepted=True)


def test_customer_cannot_write_internal_note(case, customer):
    with pytest.raises(NotAllowed):
        services.timeline_add(actor=customer, case=case, body="secret", internal=True)


def test_customer_message_does_not_count_as_first_response(case, customer):
    services.timeline_add(actor=customer, case=case, body="Any news?")
    case.refresh_from_db()
    assert case.first_response_at is None


def test_full_lifecycle_and_reopen(scoped_case, engineer, customer):
    case = services.case_transition(actor=engineer, case=scoped_case, name="start_investigation")
    case = services.case_transition(
        actor=engineer, case=case, name="propose_resolution", message="Replace DIMM 2"
    )
    assert case.state == State.PENDING_CONFIRMATION
    summary = services.case_close(actor=engineer, case=case, **CLOSE)
    case.refresh_from_db()
    assert case.state == State.CLOSED and case.closed_at is not None and summary.version == 1
    case = services.case_transition(actor=engineer, case=case, name="reopen", message="Crashed again")
    assert case.state == State.INVESTIGATING and case.closed_at is None
    actions = list(
        AuditEvent.objects.filter(case=case).order_by("id").values_list("action", "from_state", "to_state")
    )
    assert ("close", "pending_confirmation", "closed") in actions
    assert ("reopen", "closed", "investigating") in actions


def test_transition_from_wrong_state_changes_nothing(case, engineer):
    with pytest.raises(InvalidState):
        services.case_transition(actor=engineer, case=case, name="propose_resolution", message="x")
    case.refresh_from_db()
    assert case.state == State.NEW
    assert not AuditEvent.objects.filter(case=case, action="propose_resolution").exists()


def test_close_requires_summary(case, engineer):
    with pytest.raises(InvalidInput):
        services.case_close(actor=engineer, case=case, **{**CLOSE, "analysis": ""})
    case.refresh_from_db()
    assert case.state == State.NEW


def test_close_requires_a_known_resolution_type(case, engineer):
    with pytest.raises(InvalidInput):
        services.case_close(actor=engineer, case=case, **{**CLOSE, "resolution_type": "fixed-somehow"})


def test_account_manager_cannot_close(case, account_manager):
    with pytest.raises(NotAllowed):
        services.case_close(actor=account_manager, case=case, **CLOSE)


def test_customer_cannot_transition(scoped_case, customer):
    with pytest.raises(NotAllowed):
        services.case_transition(actor=customer, case=scoped_case, name="start_investigation")


def test_closed_case_cannot_be_closed_again(case, engineer):
    services.case_close(actor=engineer, case=case, **CLOSE)
    with pytest.raises(InvalidState):
        services.case_close(actor=engineer, case=case, **CLOSE)


def test_reassign_needs_reason_and_is_audited(case, engineer, other_engineer):
    with pytest.raises(InvalidInput):
        services.case_assign(actor=engineer, case=case, owner=other_engineer)
    services.case_assign(actor=engineer, case=case, owner=other_engineer, reason="Holiday")
    case.refresh_from_db()
    assert case.owner == other_engineer
    event = AuditEvent.objects.get(case=case, action="case_reassigned")
    assert event.data == {"from": "engineer", "to": "engineer2", "reason": "Holiday"}


def test_cannot_assign_to_a_customer(case, engineer, customer):
    with pytest.raises(InvalidInput):
        services.case_assign(actor=engineer, case=case, owner=customer, reason="x")


def test_split_creates_child_and_allows_split_closure(case, engineer):
    with pytest.raises(InvalidState):
        services.case_close(actor=engineer, case=case, **{**CLOSE, "resolution_type": "split"})
    child = services.case_split(actor=engineer, case=case, title="VPN disconnects")
    assert child.parent == case and child.organisation == case.organisation and child.number != case.number
    services.case_close(actor=engineer, case=case, **{**CLOSE, "resolution_type": "split"})


def test_transitions_allowed_lists_only_possible_actions(case, engineer, customer, account_manager):
    names = {t.name for t in services.transitions_allowed(actor=engineer, case=case)}
    assert names == {"start_scoping", "send_scope", "close"}
    assert services.transitions_allowed(actor=customer, case=case) == []
    assert services.transitions_allowed(actor=account_manager, case=case) == []


def test_notifications_are_queued_after_commit(organisation, engineer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        services.case_create(actor=engineer, organisation=organisation, title="x")
    assert len(callbacks) == 1  # nothing is sent before the commit
