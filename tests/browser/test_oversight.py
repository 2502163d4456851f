"""Managers' review and reports in a real browser; also writes the screenshots in docs/screenshots/."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from analysis.models import Crash, CrashDriver
from cases import services
from oversight.services import sla_sweep
from tests.oversight.conftest import ensure_service_level_defaults
from tests.oversight.test_reports import seed_cases
from uploads.models import Upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Screenshots go to docs/screenshots/ only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the
# work tree clean.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "portal-screenshots"
)


def _close(case, engineer, analysis, resolution_type):
    services.case_close(
        actor=engineer,
        case=case,
        problem_description="0xBE blue screens on terminals.",
        analysis=analysis,
        resolution="Vendor update installed; the customer confirmed by phone.",
        resolution_type=resolution_type,
    )


@pytest.fixture
def oversight_data(transactional_db):
    """Transactional tests flush tables, the seeded targets too: put them back."""

    ensure_service_level_defaults()


def test_manager_returns_a_summary_and_the_engineer_sees_the_request(
    oversight_data, page, live_server, sign_in, manager, engineer, organisation, case
):
    _close(case, engineer, "The isolation driver SfUemIsoSpace.sys was loaded in every crash.", "third_party")
    other = services.case_create(
        actor=engineer, organisation=organisation, title="Slow logons", owner=engineer
    )
    _close(other, engineer, "Group policy scripts time out.", "by_design")

    sign_in("manager")
    page.click("nav.mainnav >> text=Review")
    page.select_option("select[name=resolution_type]", "third_party")
    page.select_option("select[name=review_state]", "pending")
    page.click("form.filters >> text=Filter")
    assert page.locator("article.review-item").count() == 1
    item = page.locator(f"article[data-case='{case.number}']")
    item.locator("text=Read the summary").click()
    assert page.is_visible("text=The isolation driver SfUemIsoSpace.sys was loaded in every crash.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review.png"), full_page=True)

    item.locator("input[name=problem_stated]").check()
    item.locator("textarea[name=comment]").fill("Cite the dump and the date of the crash you analysed.")
    item.locator("button[value=return]").click()
    page.wait_for_selector("text=returned to the engineer")

    page.context.clear_cookies()
    sign_in("engineer")
    page.goto(f"{live_server.url}/cases/{case.number}/")
    assert page.is_visible("#review >> text=Cite the dump and the date of the crash you analysed.")
    page.fill(
        "#review textarea[name=analysis]", "Mini031023-01.dmp (2023-03-10 13:31): 0xBE, SfUemIsoSpace.sys."
    )
    page.click("text=Save the new version")
    page.wait_for_selector("text=Summary v2 saved")
    assert case.summaries.count() == 2


def test_reports_page_renders_its_charts(
    oversight_data, page, live_server, sign_in, manager, engineer, other_engineer, organisation
):

    cases = seed_cases(organisation, [engineer, other_engineer], 120)
    codes = ["0x000000be", "0x0000001a", "0x000000c2", "0x0000007e", "0x0000003b"]
    drivers = ["sfuemisospace.sys", "edevmon.sys", "klif.sys"]
    for i, case in enumerate(cases[:40]):
        upload = Upload.objects.create(case=case, filename=f"Mini{i:04d}.dmp", size=1)
        for j in range(1 + i % 3):
            crash = Crash.objects.create(
                upload=upload, case=case, index=j, code=codes[(i + j) % (2 + i % 4)], raw={}
            )
            CrashDriver.objects.create(crash=crash, case=case, name=drivers[(i * j) % (1 + i % 3)])
    sla_sweep()
    sign_in("manager")
    page.click("nav.mainnav >> text=Reports")
    page.wait_for_selector("svg.chart")
    assert page.locator("svg.chart").count() >= 4
    assert page.locator("svg.chart rect").count() > 10
    assert page.is_visible("#weekly table")
    page.screenshot(path=str(SCREENSHOTS / "reports.png"), full_page=True)
