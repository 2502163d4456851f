"""The pages each role uses most, at phone width (390 x 844) and on a laptop (1280 x 800): never wider than
the screen, a header of at most two rows. With PORTAL_SCREENSHOTS=1 the phone screenshots of the case
list and the case page in both languages go to docs/screenshots/ (phone-*.png)."""

from __future__ import annotations

import pytest

from accounts.models import User
from cases import services

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _header_rows(page) -> int:
    """Rows of the top bar: how many distinct lines the centres of its items sit on."""
    return page.evaluate(
        """() => new Set([...document.querySelector('header.topbar').children]
              .filter(e => e.offsetParent !== null)
              .map(e => { const r = e.getBoundingClientRect(); return Math.round((r.top + r.height / 2) / 16); })).size"""
    )


@pytest.mark.parametrize(("width", "height"), [(390, 844), (1280, 800)])
def test_the_most_used_pages_fit_the_screen(
    signed_in_page, scoped_case, customer, engineer, manager, width, height
):
    services.timeline_add(actor=engineer, case=scoped_case, body="Please upload the minidump.")
    pages = {
        customer: ["/cases/", f"/cases/{scoped_case.number}/", f"/cases/{scoped_case.number}/upload/"],
        engineer: ["/cases/?view=all", f"/cases/{scoped_case.number}/", "/notifications/"],
        manager: ["/review/", "/cases/?view=all"],
    }
    wide, tall_headers = {}, {}
    for person, urls in pages.items():
        page = signed_in_page(person, width, height)
        for url in urls:
            page.goto(url)
            overflow = page.evaluate("document.documentElement.scrollWidth") - width
            if overflow > 0:
                wide[f"{person.username} {url}"] = overflow
            rows = _header_rows(page)
            if rows > 2:
                tall_headers[f"{person.username} {url}"] = rows
    assert wide == {} and tall_headers == {}


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_phone_screenshots_of_the_customers_pages(
    signed_in_page, scoped_case, customer, engineer, shots, language
):
    User.objects.filter(pk=customer.pk).update(language=language)
    services.timeline_add(
        actor=engineer, case=scoped_case, body="Please upload the minidump of the last crash."
    )
    page = signed_in_page(customer, 390, 844)
    suffix = "zh" if language == "zh-hans" else "en"
    for name, url in (
        ("case-list", "/cases/"),
        ("case-page", f"/cases/{scoped_case.number}/"),
    ):  # the upload page's are made by tests/browser/test_upload_page.py, with every kind of row
        page.goto(url)
        assert page.locator("html").get_attribute("lang") == language
        page.screenshot(path=str(shots / f"phone-{name}-{suffix}.png"), full_page=True)
