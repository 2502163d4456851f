"""The three journeys of the foundation, in a real browser."""

from __future__ import annotations

import re

import pytest

from cases.models import Case, State

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_engineer_opens_scopes_and_closes_a_case(
    page, live_server, sign_in, engineer, organisation, customer
):
    sign_in("engineer")
    page.click("text=New case")
    page.select_option("#id_organisation", label="Contoso")
    page.fill("#id_title", "Blue screens 0xBE after update")
    page.select_option("#id_severity", "high")
    page.click("text=Open case")
    page.wait_for_selector("text=Blue screens 0xBE after update")
    number = re.search(r"CAS-\d{5}-[A-Z0-9]{6}", page.content()).group(0)

    page.fill("#id_problem_definition", "Terminals crash with bug check 0xBE.")
    page.fill("#id_scope", "Closed when solved, by design, or a third party is responsible.")
    page.fill("#id_next_steps", "Upload C:\\Windows\\Minidump and the System log.")
    page.click("text=Save scope")
    page.wait_for_selector("text=Scope saved.")
    page.click("button[data-action=send_scope]")
    page.wait_for_selector(".state-awaiting_customer.big")

    page.click("text=Close with summary")
    page.fill("#id_analysis", "Memory-family codes in every dump; DIMM 2 failed the diagnostic.")
    page.fill("#id_resolution", "DIMM replaced; the customer confirmed by phone.")
    page.select_option("#id_resolution_type", "resolved")
    page.click("text=Close with this summary")
    page.wait_for_selector(".state-closed.big")
    assert page.is_visible("text=DIMM replaced; the customer confirmed by phone.")
    assert Case.objects.get(number=number).state == State.CLOSED


def test_customer_accepts_scope_and_writes_a_message(page, live_server, sign_in, scoped_case, customer):
    sign_in("alice")
    page.click(f"text={scoped_case.number}")
    page.click("text=Accept the scope")
    page.wait_for_selector("text=your answer to the scope is recorded")
    assert page.is_visible(".ack-accepted")
    page.fill("#id_body", "The dumps are uploaded, thank you.")
    page.click("text=Send to the engineer")
    page.wait_for_selector("text=The dumps are uploaded, thank you.")
    assert scoped_case.timeline.filter(body="The dumps are uploaded, thank you.", internal=False).exists()


def test_case_page_in_chinese(page, live_server, sign_in, scoped_case, customer):
    customer.language = "zh-hans"
    customer.save()
    sign_in("alice")
    page.goto(f"{live_server.url}/cases/{scoped_case.number}/")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.is_visible("text=接受范围")
