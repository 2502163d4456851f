"""Every page a customer uses, and the engineer's case list and case page, at phone and laptop width:
no serious or critical WCAG 2.1 AA violation (axe-core, injected into the page), no sideways scrolling,
and a customer's journey done with the keyboard alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cases import services
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = Path(__file__).resolve().parents[2] / ".venv" / "node_modules" / "axe-core" / "axe.min.js"
WIDTHS = [(390, 844), (1280, 800)]


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        pytest.skip("axe-core is not installed (make test installs it from the npm registry)")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def open_page(signed_in_page):
    def _open(user, width: int, height: int, locale: str = "en-GB"):
        # bypass_csp: axe is injected as a script the portal's policy would (rightly) refuse.
        return signed_in_page(user, width, height, locale=locale, bypass_csp=True)

    return _open


def _violations(page, axe_source: str) -> list[str]:
    page.evaluate(axe_source)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
            return r.violations.filter(v => ['serious', 'critical'].includes(v.impact))
                .map(v => v.id + ': ' + v.help + ' @ ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
        }"""
    )
    return list(result)


@pytest.fixture
def pages(scoped_case, engineer, customer):
    services.timeline_add(actor=engineer, case=scoped_case, body="Please upload the minidump.")
    return {
        "customer": [
            "/cases/",
            f"/cases/{scoped_case.number}/",
            f"/cases/{scoped_case.number}/upload/",
            "/notifications/",
            "/accounts/profile/",
            "/no/such/page/",
        ],
        "engineer": ["/cases/?view=all", f"/cases/{scoped_case.number}/"],
    }


@pytest.mark.parametrize(("width", "height"), WIDTHS)
def test_pages_have_no_serious_accessibility_violations_and_no_sideways_scrolling(
    open_page, axe_source, pages, customer, engineer, width, height
):
    problems = {}
    anonymous = open_page(None, width, height)
    for url in ("/accounts/login/", "/accounts/sso/"):  # the password and the single sign-on way in
        anonymous.goto(url)
        problems[url] = _violations(anonymous, axe_source)
    for person, urls in ((customer, pages["customer"]), (engineer, pages["engineer"])):
        page = open_page(person, width, height)
        for url in urls:
            page.goto(url)
            found = _violations(page, axe_source)
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            if overflow > 0:
                found.append(f"scrolls sideways by {overflow} px at {width} px")
            problems[f"{person.username} {url}"] = found
    assert {url: found for url, found in problems.items() if found} == {}, json.dumps(problems, indent=1)


def test_a_customer_signs_in_sends_a_message_and_starts_an_upload_with_the_keyboard(
    open_page, scoped_case, customer, tmp_path
):
    page = open_page(None, 1280, 800)
    page.goto("/accounts/login/")
    assert page.evaluate("document.activeElement.id") == "id_username"  # the form takes the keyboard
    page.keyboard.type(customer.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/cases/**")
    # Open the case from the list: Tab to its link, Enter.
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == scoped_case.number:
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/cases/{scoped_case.number}/")
    # The skip link comes first and takes the keyboard past the header at once.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('skip-link')")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "id_body":
            break
    page.keyboard.type("The dumps are on their way.")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=The dumps are on their way.")
    # Start an upload: Tab reaches "choose files" (the operating system's file dialog that Enter opens
    # cannot be driven here, so the file is given to the focused input as the dialog would).
    page.goto(f"/cases/{scoped_case.number}/upload/")
    dump = tmp_path / "Mini.dmp"
    dump.write_bytes(b"MDMP" + bytes(2048))
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "file-input":
            break
    assert page.evaluate("document.activeElement.id") == "file-input"
    page.set_input_files("#file-input", str(dump))
    page.wait_for_selector("#upload-list td:has-text('Mini.dmp')")
