"""The reference case (../shared/seed) run through the pipeline from its public text, and its findings
message drafted in the engineer's editor in English and Chinese; saves docs/screenshots/findings-reference-
{en,zh}.png with PORTAL_SCREENSHOTS=1."""

from __future__ import annotations

import pytest

from tests.cases.graded.test_graded_cases import CASES, _analyse

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REFERENCE = next(case for case in CASES if case.name == "reference-cas-08433")


@pytest.mark.skipif(bool(REFERENCE.missing), reason="the seed case (../shared/seed) is not present")
def test_reference_case_findings_message_in_both_languages(page, live_server, sign_in, scoped_case, shots):
    for name, path in REFERENCE.files:
        _analyse(scoped_case, name, path)
    sign_in("engineer")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/cases/{scoped_case.number}/")
    page.click("a[data-document=findings]")
    page.wait_for_selector("#document-preview")
    preview = page.locator("#document-preview")
    assert "SfUemIsoSpace.sys" in preview.inner_text()
    assert "verifier /standard /driver SfUemIsoSpace.sys" in preview.inner_text()
    page.locator(".doc-preview").screenshot(path=str(shots / "findings-reference-en.png"))

    page.click("a[data-language=zh-hans]")
    page.wait_for_selector(".active-language[lang=zh-hans]")
    text = page.locator("#document-preview").inner_text()
    assert "内存损坏" in text and "SfUemIsoSpace.sys" in text and "mdsched" in text
    page.locator(".doc-preview").screenshot(path=str(shots / "findings-reference-zh.png"))
