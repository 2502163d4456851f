"""A customer drags a file onto the upload page, sees 100 % and the file listed with its SHA-256."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from tests.factories import PASSWORD
from uploads.models import Upload

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser, live_server):
    """A page on the live server (the browser is shared: tests/browser/conftest.py), collecting errors."""
    context = browser.new_context(base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.errors = errors  # type: ignore[attr-defined]
    yield page
    context.close()


def test_customer_drags_a_file_and_sees_it_stored_with_its_sha256(page, customer, case, settings):
    settings.UPLOAD_CHUNK_SIZE = 1024 * 1024  # several chunks for a 3 MiB file
    data = b"PAGEDU64" + os.urandom(3 * 1024 * 1024)
    expected = hashlib.sha256(data).hexdigest()

    page.goto("/accounts/login/")
    page.fill("input[name=username]", customer.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"/cases/{case.number}/upload/")
    page.wait_for_selector("#dropzone")

    page.evaluate(
        """(encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (ch) => ch.charCodeAt(0));
            const file = new File([bytes], "MEMORY.DMP", {type: "application/octet-stream"});
            const transfer = new DataTransfer();
            transfer.items.add(file);
            const zone = document.getElementById("dropzone");
            for (const name of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(name, {dataTransfer: transfer, bubbles: true, cancelable: true}));
            }
        }""",
        base64.b64encode(data).decode(),
    )
    item = page.wait_for_selector(".qitem.qdone", timeout=60_000)
    assert item.get_attribute("data-percent") == "100"
    assert page.eval_on_selector(".qitem progress", "el => el.value") == 100
    assert expected in item.inner_text()
    page.wait_for_selector(f"#upload-list code.sha:text('{expected}')", timeout=10_000)
    assert "MEMORY.DMP" in page.inner_text("#upload-list")
    upload = Upload.objects.get()
    assert (upload.state, upload.sha256, upload.size) == (Upload.State.STORED, expected, len(data))
    assert not [error for error in page.errors if "Content Security Policy" in error]
