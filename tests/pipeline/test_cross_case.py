"""Cross-case counters: kept by the pipeline as a case's crashes change, equal to a rebuild from the
crashes, read in one query, and counted only over the cases an account manager may see."""

from __future__ import annotations

import pytest

from accounts.models import User
from analysis.cross_case import case_marks_refresh, marks_rebuild
from analysis.models import CaseMark, Crash, CrashDriver, MarkCount
from analysis.selectors import seen_elsewhere
from cases import services as case_services
from tests.factories import OrganisationFactory, UserFactory
from uploads.models import Upload

pytestmark = pytest.mark.django_db


def _crash(case, index: int, drivers: list[str], signature: str = "") -> Crash:

    upload = Upload.objects.create(case=case, filename=f"{index}.dmp", size=1, offset=1, state="analysed")
    crash = Crash.objects.create(
        upload=upload, case=case, index=0, third_party_drivers=drivers, signature_module=signature
    )
    for name in drivers:
        CrashDriver.objects.create(crash=crash, case=case, name=name.lower())
    return crash


def _counts() -> dict[tuple[str, str], int]:
    return {(row.kind, row.key): row.cases for row in MarkCount.objects.all()}


def test_counters_follow_each_case_and_equal_a_rebuild(organisation, engineer):
    cases = [
        case_services.case_create(actor=engineer, organisation=organisation, title=f"c{n}") for n in range(3)
    ]
    _crash(cases[0], 0, ["ntfs.sys", "av.sys"], "0xBE | av.sys")
    _crash(cases[0], 1, ["av.sys"], "0xBE | av.sys")  # twice in one case counts once
    _crash(cases[1], 2, ["av.sys"], "0x1A | windows-kernel")
    for case in cases:
        case_marks_refresh(case=case)
    assert _counts()[("driver", "av.sys")] == 2
    assert _counts()[("signature", "0xBE | av.sys")] == 1
    # The case's crashes are replaced (a re-run): the counters move by the difference.
    Crash.objects.filter(case=cases[0]).delete()
    _crash(cases[0], 3, ["other.sys"])
    assert case_marks_refresh(case=cases[0]) == (1, 3)
    assert _counts()[("driver", "av.sys")] == 1 and _counts()[("driver", "ntfs.sys")] == 0
    incremental = {key: n for key, n in _counts().items() if n}
    marks_rebuild()
    assert _counts() == incremental
    assert set(CaseMark.objects.values_list("kind", "key", "case")) == {
        ("driver", "other.sys", cases[0].pk),
        ("driver", "av.sys", cases[1].pk),
        ("signature", "0x1A | windows-kernel", cases[1].pk),
    }


def test_seen_elsewhere_reads_the_counters_in_one_query(organisation, engineer, django_assert_num_queries):
    cases = [
        case_services.case_create(actor=engineer, organisation=organisation, title=f"c{n}") for n in range(4)
    ]
    crashes = [_crash(case, n, ["av.sys"], "0xBE | av.sys") for n, case in enumerate(cases)]
    for case in cases:
        case_marks_refresh(case=case)
    with django_assert_num_queries(1):
        seen = seen_elsewhere(user=engineer, case=cases[0], crashes=[crashes[0]])
    assert seen.drivers["av.sys"][0] == 3 and seen.signatures["0xBE | av.sys"][0] == 3


def test_an_account_manager_counts_only_the_cases_they_may_see(organisation, engineer):
    tam = UserFactory(username="tam2", role=User.Role.ACCOUNT_MANAGER)
    organisation.account_managers.add(tam)
    elsewhere = OrganisationFactory(name="Elsewhere", slug="elsewhere")
    mine = [case_services.case_create(actor=engineer, organisation=organisation, title="m") for _ in range(2)]
    theirs = case_services.case_create(actor=engineer, organisation=elsewhere, title="t")
    crashes = {case.pk: _crash(case, case.pk, ["av.sys"]) for case in [*mine, theirs]}
    for case in [*mine, theirs]:
        case_marks_refresh(case=case)
    assert seen_elsewhere(user=tam, case=mine[0], crashes=[crashes[mine[0].pk]]).drivers["av.sys"][0] == 1
    assert (
        seen_elsewhere(user=engineer, case=mine[0], crashes=[crashes[mine[0].pk]]).drivers["av.sys"][0] == 2
    )
