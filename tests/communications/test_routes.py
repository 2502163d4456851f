"""The event x recipient table: the code's ROUTES, the table in docs/notifications.md, and a whole case
lifecycle walked through the services, whose every event must reach exactly the people its row names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from accounts.models import User
from cases import conversation, services
from cases.models import AuditEvent, State
from cases.services import TRANSITIONS
from communications.models import NotificationKind
from communications.notifications import ROUTES, notification_recipients, route_for
from communications.services import case_follow, document_send, evidence_item_add
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"

# What the customer does on a case: each must reach the engineer.
CUSTOMER_ACTIONS = {
    "scope_accepted",
    "scope_objected",
    "message_added",
    "upload_stored",
    "resolution_accepted",
    "resolution_rejected",
}
# What asks or tells the customer something: each must reach the customer contacts.
CUSTOMER_FACING = {
    "send_scope",
    "request_customer",
    "evidence_requested",
    "document_sent",
    "propose_resolution",
    "resolution_reminder",
    "close",
    "reopen",
    "case_reassigned",
    "message_added",
}


def _docs_rows() -> dict[str, tuple[str, bool, bool]]:
    rows = {}
    for line in DOCS.read_text().splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|", line)
        if match:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            rows[match.group(1)] = (cells[2], cells[3] == "yes", cells[4] == "yes")
    return rows


def test_the_docs_table_is_the_code_table():
    expected = {
        action: (str(NotificationKind(route.kind).label), route.customers, route.staff)
        for action, route in ROUTES.items()
    }
    assert _docs_rows() == expected


def test_every_lifecycle_step_has_a_row():
    steps = set(TRANSITIONS) | CUSTOMER_ACTIONS | CUSTOMER_FACING
    assert sorted(steps - set(ROUTES)) == []


def test_customer_actions_reach_the_engineer_and_requests_reach_the_customer():
    assert all(ROUTES[action].staff for action in CUSTOMER_ACTIONS)
    assert all(ROUTES[action].customers for action in CUSTOMER_FACING)


@pytest.fixture
def people(case, engineer, customer, account_manager):
    """The case with an account manager, a staff follower and a second customer who took part."""
    follower = UserFactory(username="follower", role=User.Role.ENGINEER)
    case_follow(actor=follower, case=case, follow=True)
    colleague = UserFactory(username="carol", role=User.Role.CUSTOMER, organisation=case.organisation)
    return {"follower": follower, "colleague": colleague}


def _expected(event: AuditEvent) -> set[str]:
    """Who the table says hears of the event, computed from the table alone."""
    case = event.case
    route = route_for(event.action)
    if route is None:
        return set()
    names: set[str] = set()
    if route.staff:
        names |= {case.owner.username} | {u.username for u in case.followers.exclude(role="customer")}
        if event.customer_visible:
            names |= {u.username for u in case.organisation.account_managers.all()}
    if route.customers and event.customer_visible:
        names |= {case.customer_contact.username} | {
            u.username for u in case.followers.filter(role="customer")
        }
    names.discard(event.actor.username if event.actor else None)
    return names


# Every action the reference case's conversation below goes through.
REFERENCE_CASE_ACTIONS = {
    "send_scope",
    "scope_objected",
    "scope_accepted",
    "evidence_requested",
    "request_customer",
    "message_added",
    "note_added",
    "document_sent",
    "propose_resolution",
    "resolution_rejected",
    "resume_investigation",
    "resolution_accepted",
    "close",
    "reopen",
}


def _scope_agreed(case, engineer, customer, colleague, check) -> None:
    """The scope sent, objected to by the customer, sent again and accepted by a colleague of theirs."""
    services.scope_save(actor=engineer, case=case, problem_definition="p", scope="s", next_steps="n")
    evidence_item_add(actor=engineer, case=case, preset="system_log")
    services.case_transition(actor=engineer, case=case, name="send_scope")
    check()
    conversation.scope_acknowledge(actor=customer, case=case, accepted=False, comment="Also the VPN")
    check()
    services.scope_save(actor=engineer, case=case, problem_definition="p2", scope="s", next_steps="n")
    services.case_transition(actor=engineer, case=case, name="send_scope")
    conversation.scope_acknowledge(actor=colleague, case=case, accepted=True)
    check()


def _resolution_agreed(case, engineer, customer, check) -> None:
    """Files asked for and sent, findings sent, a resolution rejected, then another accepted."""
    services.case_transition(actor=engineer, case=case, name="request_customer", message="The dumps")
    services.timeline_add(actor=customer, case=case, body="Uploaded them")
    services.timeline_add(actor=engineer, case=case, body="Looking", internal=True)
    check()
    document_send(actor=engineer, case=case, kind="findings", language="en", subject="Findings", body="b")
    services.case_transition(actor=engineer, case=case, name="propose_resolution", message="Update it")
    conversation.resolution_answer(actor=customer, case=case, accepted=False, comment="Still crashes")
    services.case_transition(actor=engineer, case=case, name="propose_resolution", message="Remove it")
    services.case_transition(actor=engineer, case=case, name="resume_investigation")
    services.case_transition(actor=engineer, case=case, name="propose_resolution", message="Remove it")
    conversation.resolution_answer(actor=customer, case=case, accepted=True)
    check()


def test_a_whole_case_reaches_exactly_whom_the_table_names(case, engineer, customer, people):
    """The reference case's conversation, step by step; after each, every new event is checked."""
    colleague = people["colleague"]
    checked: set[str] = set()

    def check() -> None:
        for event in AuditEvent.objects.filter(case=case).exclude(action__in=checked):
            got = {user.username for user in notification_recipients(event)}
            assert got == _expected(event), event.action
            checked.add(event.action)

    _scope_agreed(case, engineer, customer, colleague, check)
    _resolution_agreed(case, engineer, customer, check)
    services.case_close(
        actor=engineer,
        case=case,
        problem_description="p",
        analysis="a",
        resolution="",
        resolution_type="resolved",
    )
    services.case_transition(actor=engineer, case=case, name="reopen", message="It came back")
    case.refresh_from_db()
    assert case.state == State.INVESTIGATING
    check()
    assert checked >= REFERENCE_CASE_ACTIONS
    # The colleague who answered the scope follows the case and was told of what came after.
    assert colleague.username in {
        u.username for u in notification_recipients(AuditEvent.objects.get(action="reopen"))
    }
