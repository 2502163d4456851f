"""Evidence requests: listed in the scope message and on the upload page, ticked off by matching uploads."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from cases.errors import NotAllowed
from communications import services
from communications.documents import document_draft
from communications.selectors import evidence_checklist
from tests.communications.conftest import make_upload
from uploads.models import Upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def requested(scoped_case, engineer):
    for preset in ("minidumps", "memory_dmp", "system_log"):
        services.evidence_item_add(actor=engineer, case=scoped_case, preset=preset)
    return scoped_case


def _received(case) -> dict[str, str | None]:
    return {s.item.preset: (s.upload.filename if s.upload else None) for s in evidence_checklist(case=case)}


def test_items_tick_off_as_matching_uploads_arrive(requested, customer):
    assert _received(requested) == {"minidumps": None, "memory_dmp": None, "system_log": None}
    make_upload(requested, filename="System.evtx", kind=Upload.Kind.EVTX, by=customer)
    assert _received(requested)["system_log"] == "System.evtx"
    make_upload(requested, filename="031023-12515-01.dmp", kind=Upload.Kind.KERNEL_DUMP, by=customer)
    # One kernel dump fulfils one request: the minidumps, since MEMORY.DMP is asked for by name.
    assert _received(requested) == {
        "minidumps": "031023-12515-01.dmp",
        "memory_dmp": None,
        "system_log": "System.evtx",
    }
    make_upload(requested, filename="MEMORY.DMP", kind=Upload.Kind.KERNEL_DUMP, by=customer)
    assert all(_received(requested).values())


def test_uploads_not_received_or_of_another_kind_do_not_count(requested, customer):
    make_upload(requested, filename="x.dmp", kind=Upload.Kind.KERNEL_DUMP, state=Upload.State.RECEIVING)
    make_upload(requested, filename="x.dmp", kind=Upload.Kind.KERNEL_DUMP, state=Upload.State.REJECTED)
    make_upload(requested, filename="notes.txt", kind=Upload.Kind.TEXT_LOG)
    make_upload(requested, filename="logs.zip", kind=Upload.Kind.ARCHIVE)
    assert not any(_received(requested).values())


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ["The crash dumps in C:\\Windows\\Minidump", "wevtutil epl System", "MEMORY.DMP"]),
        ("zh-hans", ["C:\\Windows\\Minidump 目录下的蓝屏 dump 文件", "系统事件日志", "MEMORY.DMP"]),
    ],
)
def test_scope_message_lists_the_requests_with_their_instructions(requested, language, expected):
    body = document_draft(case=requested, kind="scope", language=language).body
    for text in expected:
        assert text in body


def test_upload_page_checklist_shows_what_is_missing(requested, customer, client):
    make_upload(requested, filename="System.evtx", kind=Upload.Kind.EVTX, by=customer)
    client.force_login(customer)

    request = RequestFactory().get("/")
    request.user = customer
    html = Template('{% include "communications/evidence_checklist.html" %}').render(
        Context({"case": requested, "request": request})
    )
    assert html.count('class="received"') == 1
    assert html.count('class="missing"') == 2
    assert "System.evtx" in html


def test_custom_request_and_withdrawal(scoped_case, engineer, customer):
    item = services.evidence_item_add(
        actor=engineer,
        case=scoped_case,
        label="!analyze -v output",
        instructions="Open the dump in WinDbg and run !analyze -v.",
        kind=Upload.Kind.TEXT_LOG,
    )
    make_upload(scoped_case, filename="analyze.txt", kind=Upload.Kind.TEXT_LOG, by=customer)
    assert evidence_checklist(case=scoped_case)[0].received
    services.evidence_item_remove(actor=engineer, item=item)
    assert evidence_checklist(case=scoped_case) == []


def test_customers_cannot_request_evidence(scoped_case, customer):

    with pytest.raises(NotAllowed):
        services.evidence_item_add(actor=customer, case=scoped_case, preset="minidumps")
