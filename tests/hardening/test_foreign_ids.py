"""Object ids of another organisation (research/reliability.md S1-S3): always 404, nothing changes.

Bob (the other organisation's customer) has a case of his own, so every route he tries is one he may use,
with only the object id taken from Alice's organisation: the check must be on the object, not the route.
"""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from analysis.models import Finding
from cases import services as case_services
from communications.models import EvidenceItem, SentDocument
from tests.pipeline.conftest import store_upload
from tests.uploads.conftest import TUS
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def bobs_case(other_organisation, other_customer, engineer):
    return case_services.case_create(
        actor=engineer,
        organisation=other_organisation,
        title="Bob's own case",
        customer_contact=other_customer,
        owner=engineer,
    )


@pytest.fixture
def alices_upload(case, customer) -> Upload:
    upload = store_upload(case=case, content=b"BUG: secret oops", filename="secret.txt", uploaded_by=customer)
    Finding.objects.create(
        case=case, upload=upload, seq=0, code="secret", severity="high", title="Alice's secret finding"
    )
    return upload


@pytest.fixture
def bob(other_customer) -> Client:
    browser = Client()
    browser.force_login(other_customer)
    return browser


@pytest.fixture
def bob_api(other_customer, token_client):
    return token_client(other_customer)


def test_upload_id_of_another_organisation_is_404_on_every_upload_route(
    alices_upload, bobs_case, bob, bob_api
):
    upload_id = alices_upload.pk
    tus = f"/api/cases/{bobs_case.number}/uploads/tus/{upload_id}"
    answers = {
        "api detail": bob_api.get(f"/api/uploads/{upload_id}/").status_code,
        "api download": bob_api.get(f"/api/uploads/{upload_id}/download/").status_code,
        "page download": bob.get(f"/uploads/{upload_id}/download/").status_code,
        # Alice's upload id under Bob's own case number (the case check passes, the object check must not).
        "tus head": bob_api.head(tus, **TUS).status_code,
        "tus patch": bob_api.generic(
            "PATCH", tus, b"x", content_type="application/offset+octet-stream", HTTP_UPLOAD_OFFSET="0", **TUS
        ).status_code,
        "tus delete": bob_api.delete(tus, **TUS).status_code,
        "tus head, her case": bob_api.head(
            f"/api/cases/{alices_upload.case.number}/uploads/tus/{upload_id}", **TUS
        ).status_code,
    }
    assert answers == dict.fromkeys(answers, 404)
    alices_upload.refresh_from_db()
    assert alices_upload.state == Upload.State.STORED


def test_findings_of_another_organisation_never_show(alices_upload, bobs_case, bob, bob_api):
    assert bob_api.get(f"/api/cases/{alices_upload.case.number}/findings/").status_code == 404
    own = bob_api.get(f"/api/cases/{bobs_case.number}/findings/")
    assert own.status_code in (200, 403)  # customers may not be shown findings at all; never hers
    assert b"Alice's secret finding" not in own.content
    for url in (
        f"/cases/{alices_upload.case.number}/analysis/status/",
        f"/cases/{alices_upload.case.number}/analysis/panel/",
    ):
        assert bob.get(url).status_code == 404


def test_rerun_with_another_organisations_upload_under_an_own_case_is_refused(
    alices_upload, bobs_case, engineer
):
    """Staff see every case, so the check that matters is upload-belongs-to-case: 404, no job."""
    staff = Client()
    staff.force_login(engineer)
    response = staff.post(f"/cases/{bobs_case.number}/analysis/uploads/{alices_upload.pk}/rerun/")
    assert response.status_code == 404
    assert not alices_upload.analysis_jobs.exists()


def test_lists_and_filters_never_leak_and_ignore_organisation_overrides(alices_upload, bobs_case, bob_api):
    for query in (
        "",
        f"?organisation={alices_upload.case.organisation_id}",
        f"?case={alices_upload.case.number}",
    ):
        body = bob_api.get(f"/api/cases/{query}").json()
        numbers = {row["number"] for row in body["results"]}
        # A foreign organisation filter narrows Bob's own rows (to none); it never widens them.
        assert numbers <= {bobs_case.number}, query
        assert numbers == {bobs_case.number} or "organisation" in query, query
    assert bob_api.get(f"/api/cases/{alices_upload.case.number}/uploads/").status_code == 404
    own = bob_api.get(f"/api/cases/{bobs_case.number}/uploads/?case={alices_upload.case.number}").json()
    assert own["count"] == 0


def test_documents_and_evidence_items_of_another_organisation_are_404(case, bobs_case, bob):
    document = SentDocument.objects.create(
        case=case, kind="findings", language="en", subject="s", body="secret"
    )
    item = EvidenceItem.objects.create(case=case, label="System log", kind="evtx")
    assert bob.get(f"/cases/{bobs_case.number}/documents/sent/{document.pk}/").status_code == 404
    assert bob.post(f"/cases/{bobs_case.number}/evidence/{item.pk}/remove/").status_code in (403, 404)
    assert EvidenceItem.objects.filter(pk=item.pk).exists()


def test_a_token_acts_only_for_its_owner_and_revokes_only_its_own(
    alices_upload, customer, other_customer, bobs_case, token_client
):
    alice_token = Token.objects.create(user=customer)
    bob_api = token_client(other_customer)
    assert bob_api.delete("/api/token/").status_code == 204
    assert Token.objects.filter(key=alice_token.key).exists()  # Bob's revocation leaves Alice's token
    # A token in the body or query string is no credential.
    anonymous = Client()
    assert anonymous.get(f"/api/uploads/{alices_upload.pk}/?token={alice_token.key}").status_code == 401
    # Alice's token never opens Bob's case.
    alice_api = token_client(customer)
    assert alice_api.get(f"/api/cases/{bobs_case.number}/").status_code == 404
