"""The seed of bench/load.py's database: 10,000 cases in a real site's shape (bench/seedshape.py), with
uploads, crashes, shared drivers, findings and timelines, written once with bulk_create.

Imported before Django is set up: the models are imported by the functions that use them.
"""

from __future__ import annotations

import dataclasses
import random
import string
import time
import uuid
from datetime import datetime, timedelta

import seedshape

CASES, UPLOADS_PER_CASE, FINDINGS_PER_UPLOAD = 10_000, 5, 4
SMALL_ORG_CASES = 10
ORGANISATIONS = 20
BATCH = 5_000
SEED_MARK = "Bench small (seed 2: crashes, shared drivers, timelines)"
PASSWORD = "bench-password-123"


def seed() -> dict[str, object]:
    """Seed once (idempotent by a marker organisation); returns the users and a case number to measure.

    The data has a real site's shape (bench/seedshape.py): crashes whose third-party drivers are shared by
    thousands of cases or by few, long timelines on some cases, organisations of very different sizes."""
    from accounts.models import Organisation, User
    from cases.models import Case

    engineer, _ = User.objects.get_or_create(username="bench-engineer", defaults={"role": User.Role.ENGINEER})
    engineer.set_password(PASSWORD)
    engineer.save()
    small = Organisation.objects.filter(slug="bench-small").first()
    if small is None or Case.objects.count() < CASES:
        small = _write(engineer)
    customer = User.objects.get(username="bench-customer-0")
    customer.set_password(PASSWORD)
    customer.save()
    case_number = (
        Case.objects.filter(organisation=small).order_by("number").values_list("number", flat=True)[0]
    )
    return {"engineer": engineer, "customer": customer, "case": case_number}


def _write(engineer):  # type: ignore[no-untyped-def]
    """Every row in one transaction, then the search documents, cross-case marks and statistics."""
    from django.db import transaction
    from django.utils import timezone

    from accounts.models import Organisation, User

    started = time.monotonic()
    rng = random.Random(8433)
    with transaction.atomic():
        small = Organisation.objects.create(name=SEED_MARK, slug="bench-small")
        orgs = [small] + Organisation.objects.bulk_create(
            Organisation(name=f"Bench org {n}", slug=f"bench-org-{n}") for n in range(ORGANISATIONS - 1)
        )
        customers = [
            User.objects.create(username=f"bench-customer-{n}", role=User.Role.CUSTOMER, organisation=org)
            for n, org in enumerate(orgs)
        ]
        now = timezone.now()
        plans = _plans(rng)
        cases = _cases(rng, plans, orgs, customers, engineer)
        uploads = _uploads(rng, cases, now)
        _crashes(cases, plans, uploads, now)
        _findings(rng, plans, uploads)
        _timelines(cases, plans, engineer)
    _derived(cases)
    _print_counts(started)
    return small


def _plans(rng: random.Random) -> list[seedshape.CasePlan]:
    plans = []
    for n in range(CASES):
        if n < SMALL_ORG_CASES:
            # The measured case page: five timeline entries (the peer's ticket has about five
            # follow-ups) and the drivers thousands of other cases share.
            plan = seedshape.case_plan(rng, organisation=0, crashes=UPLOADS_PER_CASE, timeline=5)
            plan = dataclasses.replace(plan, drivers=("SfUemIsoSpace.sys", "aswSP.sys", *plan.drivers[-1:]))
        else:
            org = seedshape.organisation_index(rng, ORGANISATIONS)
            plan = seedshape.case_plan(rng, organisation=org, crashes=UPLOADS_PER_CASE, index=n)
        plans.append(plan)
    return plans


def _cases(rng: random.Random, plans, orgs, customers, engineer) -> list:  # type: ignore[no-untyped-def]
    from cases.models import Case

    cases = []
    for n, plan in enumerate(plans):
        suffix = "".join(rng.choices(string.ascii_uppercase + string.digits, k=6))
        cases.append(
            Case(
                number=f"CAS-{n:05d}-{suffix}",
                title=f"Blue screen 0x{rng.choice([0xBE, 0x1A, 0xC2, 0x7E]):X} on host {n}",
                organisation=orgs[plan.organisation],
                customer_contact=customers[plan.organisation],
                owner=engineer,
                opened_by=engineer,
                state=rng.choice(["new", "scoping", "awaiting_customer", "investigating"]),
                severity=rng.choice(["low", "medium", "high"]),
            )
        )
    return Case.objects.bulk_create(cases, batch_size=BATCH)


def _uploads(rng: random.Random, cases: list, now: datetime) -> list:
    from uploads.models import Upload

    uploads = [
        Upload(
            id=uuid.UUID(int=rng.getrandbits(128), version=4),
            case=case,
            uploaded_by=case.customer_contact,
            filename=f"Mini{i:02d}.dmp",
            size=1_000_000 + i,
            offset=1_000_000 + i,
            sha256=f"{rng.getrandbits(256):064x}",
            state=Upload.State.ANALYSED,
            kind=Upload.Kind.KERNEL_DUMP,
            storage_name=f"cases/{case.number}/{i}",
            completed_at=now,
        )
        for case in cases
        for i in range(UPLOADS_PER_CASE)
    ]
    Upload.objects.bulk_create(uploads, batch_size=BATCH)
    return uploads


def _crashes(cases: list, plans: list, uploads: list, now: datetime) -> None:
    """One crash per upload, in the same order, and the third-party drivers of each."""
    from analysis.models import Crash, CrashDriver

    crashes = []
    for case, plan in zip(cases, plans, strict=True):
        for i, (code, name) in enumerate(plan.crashes):
            coarse, module = seedshape.signature(code, plan.drivers)
            crashes.append(
                Crash(
                    upload=uploads[len(crashes)],
                    case=case,
                    index=0,
                    crash_time=now - timedelta(days=30, minutes=len(crashes)),
                    code=code,
                    name=name,
                    parameters=["0xfffffec500007038", "0x8a00000004000021", "0xfffff582b04ea8d0", "0xb"],
                    process_name="smss.exe" if i % 2 else "System",
                    third_party_drivers=list(plan.drivers),
                    modules=[{"name": d, "origin": "third_party"} for d in plan.drivers],
                    signature_coarse=coarse,
                    signature_module=module,
                    raw={},
                )
            )
    crashes = Crash.objects.bulk_create(crashes, batch_size=BATCH)
    CrashDriver.objects.bulk_create(
        (
            CrashDriver(crash=crash, case_id=crash.case_id, name=driver.lower())
            for crash in crashes
            for driver in crash.third_party_drivers
        ),
        batch_size=BATCH,
    )


def _findings(rng: random.Random, plans: list, uploads: list) -> None:
    from analysis.models import Finding

    Finding.objects.bulk_create(
        (
            Finding(
                case_id=upload.case_id,
                upload=upload,
                seq=seq,
                severity=rng.choice(["high", "medium", "low"]),
                code="third_party_driver",
                title=f"Third-party driver {drivers[seq % len(drivers)]} in the crash",
            )
            for upload, drivers in zip(
                uploads, (plan.drivers for plan in plans for _ in range(UPLOADS_PER_CASE)), strict=True
            )
            for seq in range(FINDINGS_PER_UPLOAD)
        ),
        batch_size=BATCH,
    )


def _timelines(cases: list, plans: list, engineer) -> None:  # type: ignore[no-untyped-def]
    from cases.models import TimelineEntry

    TimelineEntry.objects.bulk_create(
        (
            TimelineEntry(
                case=case,
                kind=TimelineEntry.Kind.NOTE if internal else TimelineEntry.Kind.MESSAGE,
                internal=internal,
                body=body,
                author=engineer,
            )
            for case, plan in zip(cases, plans, strict=True)
            for body, internal in plan.timeline
        ),
        batch_size=BATCH,
    )


def _derived(cases: list) -> None:
    """What the site keeps beside the rows: search documents, "seen in N other cases", statistics."""
    from django.db import connection

    from analysis.cross_case import marks_rebuild
    from cases.models import CaseSearchQueue
    from cases.search_index import case_search_refresh

    ids = [case.pk for case in cases]
    for at in range(0, len(ids), 500):
        case_search_refresh(case_ids=ids[at : at + 500])
    CaseSearchQueue.objects.all().delete()  # the documents are built: nothing for a sweep to redo
    marks_rebuild()  # "seen in N other cases" counters, as the pipeline keeps them
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh planner statistics, as autovacuum would give a live database


def _print_counts(started: float) -> None:
    from analysis.models import Crash, Finding
    from cases.models import Case, TimelineEntry
    from uploads.models import Upload

    print(
        f"seeded {Case.objects.count():,} cases, {Upload.objects.count():,} uploads, "
        f"{Crash.objects.count():,} crashes, {Finding.objects.count():,} findings, "
        f"{TimelineEntry.objects.count():,} timeline entries in {time.monotonic() - started:.0f} s"
    )
