"""Search across cases, timelines, scopes, summaries, findings, drivers, codes and signatures: what it finds,
what it never shows a customer, and what a page of results costs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from analysis.models import Crash, CrashDriver, Finding
from cases import search, search_index, services
from cases.live import case_touch
from cases.models import Case, CaseSearchDocument, CaseSearchQueue
from cases.search import search_highlight, search_terms
from cases.search_index import (
    CaseTexts,
    CrashFacts,
    case_search_refresh,
    case_search_sweep,
    code_canonical,
    search_documents,
)
from cases.selectors import case_list_for_user
from tests.factories import CaseFactory
from uploads.models import Upload


def _crash(case: Case, *, code: str, drivers: list[str], signature: str, index: int = 0) -> Crash:
    upload = Upload.objects.create(
        case=case,
        filename=f"Mini{index:02d}.dmp",
        size=1024,
        offset=1024,
        sha256="0" * 64,
        state=Upload.State.ANALYSED,
        kind=Upload.Kind.KERNEL_DUMP,
        storage_name=f"{case.number}/{index}",
    )
    crash = Crash.objects.create(
        upload=upload,
        case=case,
        index=0,
        crash_time=datetime(2023, 3, 10, 13, 31, 2, tzinfo=UTC),
        code=code,
        name="ATTEMPTED_WRITE_TO_READONLY_MEMORY",
        process_name="smss.exe",
        third_party_drivers=drivers,
        signature_coarse=signature.split(" | ")[0],
        signature_module=signature,
        raw={},
    )
    CrashDriver.objects.bulk_create(
        CrashDriver(crash=crash, case=case, name=name.lower()) for name in drivers
    )
    return crash


@pytest.fixture
def analysed_case(case, engineer, customer) -> Case:
    """The reference case as the pipeline and the engineer leave it: a 0xBE crash with a third-party
    driver, a finding, an internal note, a customer-visible message in Chinese, and a closing summary."""
    _crash(case, code="0x000000be", drivers=["SfUemIsoSpace.sys"], signature="0xBE | SfUemIsoSpace.sys")
    Finding.objects.create(
        case=case,
        seq=1,
        severity="high",
        code="memory_corruption",
        title="Many different bug checks point at memory corruption",
        detail="Run the Windows Memory Diagnostic overnight.",
    )
    case_touch(case_id=case.pk)  # as analysis.services.job_complete does after writing the rows
    services.timeline_add(
        actor=engineer, case=case, body="Escalated to the storage team; keep quiet", internal=True
    )
    services.timeline_add(actor=engineer, case=case, body="请运行内存诊断工具并上传系统日志。")
    services.case_close(
        actor=engineer,
        case=case,
        problem_description="Terminals rebooted with blue screens.",
        analysis="The isolation driver corrupted pool memory.",
        resolution="Vendor update 5.2 of the isolation agent.",
        resolution_type="third_party",
    )
    case_search_sweep()
    return case


def _found(user, query: str) -> list[str]:
    return [case.number for case in case_list_for_user(user=user, view="", search=query)]


@pytest.fixture
def other_case(other_organisation, engineer) -> Case:
    """Another organisation's case with the same driver and code: a customer of the first never finds it."""
    other = services.case_create(actor=engineer, organisation=other_organisation, title="Kiosk reboots")
    _crash(other, code="0xBE", drivers=["SfUemIsoSpace.sys"], signature="0xBE | SfUemIsoSpace.sys", index=1)
    services.timeline_add(actor=engineer, case=other, body="内存诊断 found errors on the kiosk.")
    case_search_sweep()
    return other


def test_code_spellings_are_one():
    assert {code_canonical(v) for v in ["0xBE", "0x000000be", "BE", "be", "0x00BE"]} == {"0xbe"}
    assert code_canonical("ntfs.sys") is None


@pytest.mark.parametrize("query", ["SfUemIsoSpace.sys", "sfuemisospace", "0xBE", "0x000000be", "BE"])
def test_staff_find_a_case_by_driver_and_bug_check_code(analysed_case, other_case, engineer, query):
    assert set(_found(engineer, query)) == {analysed_case.number, other_case.number}


def test_a_code_is_not_any_word_containing_its_letters(analysed_case, engineer):
    CaseFactory(title="Because it beeps", organisation=analysed_case.organisation)
    case_search_sweep()
    assert _found(engineer, "BE") == [analysed_case.number]


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("内存诊断", "a Chinese message"),
        ("内存", "a two-character Chinese word"),
        ("isolation driver", "the summary's analysis"),
        ("Memory Diagnostic overnight", "a finding's detail"),
        ('"0xBE | SfUemIsoSpace.sys"', "the crash signature"),
        ("smss.exe", "the crash's process"),
        ("Contoso", "the organisation"),
    ],
)
def test_staff_find_text_anywhere_in_the_case(analysed_case, engineer, query, where):
    assert analysed_case.number in _found(engineer, query), where


def test_every_term_must_match(analysed_case, other_case, engineer):
    assert _found(engineer, "0xBE kiosk") == [other_case.number]
    assert _found(engineer, "0xBE nothing-like-this") == []


def test_customer_never_finds_another_organisations_case(analysed_case, other_case, customer, other_customer):
    assert _found(customer, "内存诊断") == [analysed_case.number]
    assert _found(other_customer, "内存诊断") == [other_case.number]
    assert _found(customer, "Kiosk") == []


def test_customer_never_finds_internal_notes_findings_or_crashes(analysed_case, customer, engineer):
    # (0xBE is in the title, which the customer reads: it is not a secret)
    for query in ["storage team", "Memory Diagnostic overnight", "SfUemIsoSpace.sys", "smss.exe"]:
        assert _found(customer, query) == [], query
        assert _found(engineer, query) == [analysed_case.number], query
    assert _found(customer, "isolation driver") == [analysed_case.number]  # the summary is theirs to read
    customer_text = CaseSearchDocument.objects.get(case=analysed_case, audience="customer").text
    assert "storage team" not in customer_text and "SfUemIsoSpace" not in customer_text


def test_a_write_queues_the_case_and_the_sweep_rebuilds_it(case, engineer):
    case_search_sweep()
    assert _found(engineer, "quarantine") == []
    services.timeline_add(actor=engineer, case=case, body="The agent's quarantine folder filled the disk.")
    assert CaseSearchQueue.objects.filter(case=case).exists()
    assert case_search_sweep() == 1
    assert not CaseSearchQueue.objects.filter(case=case).exists()
    assert _found(engineer, "quarantine") == [case.number]


def test_a_write_during_the_rebuild_keeps_the_case_queued(case, engineer, monkeypatch):

    real = search_index.case_search_refresh

    def refresh_then_write(*, case_ids):
        done = real(case_ids=case_ids)
        services.timeline_add(actor=engineer, case=case, body="a later note")
        return done

    monkeypatch.setattr(search_index, "case_search_refresh", refresh_then_write)
    search_index.case_search_sweep(budget_seconds=0.5)
    assert CaseSearchQueue.objects.filter(case=case).exists()


def test_results_are_ranked_and_highlighted(engineer, organisation):
    in_title = CaseFactory(title="Spooler crash on print server", organisation=organisation)
    in_body = CaseFactory(
        title="Slow logon", description="The print spooler service stops.", organisation=organisation
    )
    case_search_refresh(case_ids=[in_title.pk, in_body.pk])
    results = list(case_list_for_user(user=engineer, search="spooler"))
    assert {c.number for c in results} == {in_title.number, in_body.number}
    assert results[0].number == in_title.number  # the title weighs more than the description
    snippet = search_highlight(results[1].search_text, "spooler")
    assert "<mark>spooler</mark>" in snippet and "print" in snippet


def test_highlight_escapes_and_marks_every_spelling_of_a_code():
    text = "CAS-1 <b>x</b>\nBug check 0x000000BE in smss.exe"
    snippet = search_highlight(text, "BE")
    assert "<mark>0x000000BE</mark>" in snippet
    assert "<b>" not in search_highlight(text, "x")
    assert search_highlight(text, "absent") == ""


def test_terms_split_codes_chinese_and_phrases():
    kinds = [(t.kind, t.text) for t in search_terms('ntfs.sys 0xBE 蓝屏BE "access violation"')]
    assert kinds == [
        ("text", "ntfs.sys"),
        ("code", "0xBE"),
        ("cjk", "蓝屏"),
        ("code", "BE"),
        ("text", "access violation"),
    ]


def test_documents_hold_chinese_bigrams_and_the_m_form_of_a_code():

    documents = search_documents(
        CaseTexts(number="CAS-1", title="蓝屏", crashes=[CrashFacts(code="0x1000007e", drivers=("a.sys",))])
    )
    staff, customer = documents["staff"], documents["customer"]
    assert " 0x7e " in staff.terms and " 0x1000007e " in staff.terms and " 蓝屏 " in staff.terms
    assert "0x7e" not in customer.terms and "a.sys" not in customer.text


def test_case_list_page_and_api_search_everything(client, login_api, analysed_case, engineer):
    client.force_login(engineer)
    page = client.get("/cases/?view=all&q=SfUemIsoSpace.sys").content.decode()
    assert analysed_case.number in page and "<mark>SfUemIsoSpace.sys</mark>" in page
    body = login_api(engineer).get("/api/cases/?search=0x000000be").json()
    assert [c["number"] for c in body["results"]] == [analysed_case.number]
    assert "<mark>" in body["results"][0]["search_highlight"]


@pytest.mark.slow  # hundreds of cases indexed for search: about 5 s of CPU
def test_search_page_query_count_is_constant(client, engineer, organisation, django_assert_max_num_queries):
    def cases(n: int, start: int) -> list[Case]:
        made = Case.objects.bulk_create(
            Case(
                number=f"CAS-{i:05d}-SEARCH", title=f"Blue screen 0xBE on host {i}", organisation=organisation
            )
            for i in range(start, start + n)
        )
        case_search_refresh(case_ids=[c.pk for c in made])
        return made

    cases(10, 0)
    client.force_login(engineer)
    client.get("/cases/?view=all&q=0xBE")
    # The candidates are read in a transaction of their own (parallel workers off): inside the test's
    # transaction that is a savepoint, its release and the SET LOCAL, three statements of no cost.
    with django_assert_max_num_queries(11) as small:
        assert "10 cases" in client.get("/cases/?view=all&q=0xBE").content.decode()
    cases(9_990, 10)
    with django_assert_max_num_queries(len(small.captured_queries)):
        page = client.get("/cases/?view=all&q=0xBE").content.decode()
    assert "1000 cases" in page and "newest matches are ranked" in page  # 10,000 match: the newest 1,000


def test_other_organisations_documents_are_never_joined(customer, other_organisation):
    """Belt and braces: a document of a case the customer cannot see never widens their results."""
    hidden = CaseFactory(title="Hidden", organisation=other_organisation)
    case_search_refresh(case_ids=[hidden.pk])
    assert _found(customer, "Hidden") == []


def test_case_page_links_to_cases_with_the_same_driver_and_signature(
    client, analysed_case, other_case, engineer
):
    client.force_login(engineer)
    page = client.get(f"/cases/{analysed_case.number}/").content.decode()
    driver_link = "/cases/?view=all&amp;q=SfUemIsoSpace.sys"
    signature_link = "/cases/?view=all&amp;q=%220xBE%20%7C%20SfUemIsoSpace.sys%22"
    assert driver_link in page and signature_link in page
    for link in (driver_link, signature_link):
        listed = client.get(link.replace("&amp;", "&")).content.decode()
        assert analysed_case.number in listed and other_case.number in listed


def test_only_the_newest_matches_are_ranked(client, engineer, organisation, monkeypatch):

    monkeypatch.setattr(search, "SEARCH_CANDIDATES", 3)
    made = Case.objects.bulk_create(
        Case(number=f"CAS-{i:05d}-NEWEST", title=f"Spooler crash {i}", organisation=organisation)
        for i in range(5)
    )
    case_search_refresh(case_ids=[c.pk for c in made])
    found = _found(engineer, "spooler")
    assert len(found) == 3 and made[0].number not in found  # the oldest two are past the window
    client.force_login(engineer)
    assert "newest matches are ranked" in client.get("/cases/?view=all&q=spooler").content.decode()


def test_part_of_a_name_is_found_when_no_whole_word_matches(analysed_case, other_case, engineer, customer):
    assert set(_found(engineer, "SfUemIso")) == {analysed_case.number, other_case.number}
    assert _found(engineer, analysed_case.number[:9]) and analysed_case.number in _found(
        engineer, analysed_case.number[:9]
    )
    assert _found(customer, "SfUemIso") == []  # a driver name is not in the customer's document


def test_a_search_that_matches_nothing_says_so(client, login_api, engineer, case):
    """No match by whole words nor inside words: an empty page and a count of 0, never an error."""
    client.force_login(engineer)
    page = client.get("/cases/?view=all&q=zzqqxxnothinglikethis")
    assert page.status_code == 200 and "No cases match." in page.content.decode()
    assert "0 cases" in page.content.decode()
    answer = login_api(engineer).get("/api/cases/?search=zzqqxxnothinglikethis")
    assert answer.status_code == 200 and answer.json()["count"] == 0
