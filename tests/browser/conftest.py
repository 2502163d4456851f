"""Playwright driving Debian's Chromium (a test tool's own browser download cannot work here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.factories import PASSWORD
from tests.sso.conftest import contoso_sso, oidc_provider, staff_sso  # noqa: F401 - the SSO tests' provider

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop; Django then refuses ORM calls from the test thread.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en-GB", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def sign_in(page, live_server):
    def _sign_in(username: str, password: str = "correct-horse-battery-9") -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/cases/**")

    return _sign_in


@pytest.fixture
def shots(tmp_path) -> Path:
    """docs/screenshots with PORTAL_SCREENSHOTS=1 (to refresh the docs), else a temporary folder."""
    return DOCS_SCREENSHOTS if os.environ.get("PORTAL_SCREENSHOTS") else tmp_path


@pytest.fixture
def signed_in_page(browser, live_server):
    """``open(user, width, height, locale=None, bypass_csp=False)``: a page of a browser context of its own
    at that size, signed in as ``user`` (anonymous with None); the contexts close after the test."""
    contexts = []

    def _open(user, width: int, height: int, locale: str | None = None, bypass_csp: bool = False):
        options = {"locale": locale} if locale else {}
        context = browser.new_context(
            base_url=live_server.url,
            viewport={"width": width, "height": height},
            bypass_csp=bypass_csp,
            **options,
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        if user is not None:
            page.goto("/accounts/login/")
            page.fill("#id_username", user.username)
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/cases/**")
        return page

    yield _open
    for context in contexts:
        context.close()
