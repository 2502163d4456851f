"""Growth: the same pages at 10,000, 100,000 and 1,000,000 cases, and how much slower each gets.

usage: python bench/scale.py [--sizes 10000 100000 1000000] [--requests 15]
                             [--database-prefix postgres://postgres@127.0.0.1:5432/portal_scale]

Each size has its own database (``<prefix>_10k_bench``, ``_100k_bench``, ``_1m_bench``; names must end in
``_bench``), migrated and seeded once with PostgreSQL's ``COPY`` in bench/seedshape.py's shape (organisations
of very different sizes, third-party drivers shared by ~40 % of cases or by few, a crash, an upload and a
finding per case, two timeline entries per case and 150 on one case in a hundred) with the search
documents built by the same code the sweep runs. Then, in a process of its own per size, with production
settings (DEBUG off), a manager signed in with two factors reads each page through Django's test client
(middleware, views, templates, no network): a warm-up, then the median of ``--requests`` requests. The
table gives milliseconds per size and the factor from the smallest to the largest size (the goal: at most 2).
Seeding takes 10 s, 1.5 min and 15-25 min for the three sizes on this project's 2-core machine (the longer
when the machine is shared); later runs reuse the databases and measure in about 5 minutes.
"""

from __future__ import annotations

import argparse
import importlib
import io
import itertools
import json
import os
import random
import shutil
import statistics
import string
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import load
import seedshape

ROOT = Path(__file__).resolve().parents[1]
ORGANISATIONS = 50
CHUNK = 50_000
PAGES = [
    ("list", "/cases/?view=all"),
    ("API", "/api/cases/"),
    ("case page", "/cases/{case}/"),
    ("reports", "/reports/"),
    ("search: a driver in 40 % of cases", "/cases/?view=all&q=SfUemIsoSpace.sys"),
    ("search: a rare driver", "/cases/?view=all&q=oem0042.sys"),
    ("search: bug check code", "/cases/?view=all&q=0x000000C2"),
    ("search: Chinese word (2 characters)", "/cases/?view=all&q=蓝屏"),
    ("search: Chinese word (4 characters)", "/cases/?view=all&q=安全代理"),
]


def _label(size: int) -> str:
    return f"{size // 1_000_000}m" if size % 1_000_000 == 0 else f"{size // 1000}k"


def _env(database_url: str, var_dir: str) -> dict[str, str]:
    return {
        **os.environ,
        "PORTAL_VAR_DIR": var_dir,  # static files collected there, as production serves them
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "bench-" + "k" * 60,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "SECURE_SSL_REDIRECT": "0",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "REDIS_URL": os.environ.get("REDIS_URL", ""),
    }


# -- seeding (in the child process, Django set up on the size's database) ----------------------------------


def _tsv(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _copy(cursor, model, rows: Iterable[dict[str, object]], now: datetime) -> int:  # type: ignore[no-untyped-def]
    """COPY rows (dicts by attribute name) into the model's table; absent fields take their defaults."""
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return 0
    # The database numbers rows whose id is not given.
    fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.attname not in first)]
    columns = ", ".join(f'"{f.column}"' for f in fields)
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        elif f.has_default():
            defaults[f.attname] = f.get_default()
        elif f.null:
            defaults[f.attname] = None
        else:
            defaults[f.attname] = ""
    total = 0
    buffer = io.StringIO()

    def flush() -> None:
        buffer.seek(0)
        cursor.copy_expert(f'COPY "{model._meta.db_table}" ({columns}) FROM STDIN', buffer)
        buffer.seek(0)
        buffer.truncate()

    for row in itertools.chain([first], rows):
        buffer.write("\t".join(_tsv(row.get(f.attname, defaults[f.attname])) for f in fields) + "\n")
        total += 1
        if total % CHUNK == 0:
            flush()
    flush()
    return total


def _title(n: int, plan: seedshape.CasePlan) -> str:
    return f"Blue screen {seedshape.signature(plan.crashes[0][0], ())[0]} on host {n}"


@dataclass
class Seed:
    """What the rows of a seeded database are made from: one plan per case and the values they share."""

    plans: list[seedshape.CasePlan]
    numbers: list[str]
    upload_ids: list[uuid.UUID]
    opened: list[datetime]
    organisations: list  # Organisation rows
    customers: list  # one customer (User) per organisation
    engineer: object  # the engineer (User) who owns every case


def _plan(size: int, now: datetime) -> Seed:
    from accounts.models import Organisation, User

    rng = random.Random(16)
    engineer = User.objects.create(username="scale-engineer", role=User.Role.ENGINEER)
    orgs = Organisation.objects.bulk_create(
        Organisation(name=f"Scale org {n}", slug=f"scale-org-{n}") for n in range(ORGANISATIONS)
    )
    customers = User.objects.bulk_create(
        User(username=f"scale-customer-{n}", role=User.Role.CUSTOMER, organisation=org)
        for n, org in enumerate(orgs)
    )
    plans = []
    for n in range(size):
        org = seedshape.organisation_index(rng, ORGANISATIONS)
        plan = seedshape.case_plan(rng, organisation=org, crashes=1, timeline=None, index=n)
        if plan.timeline and len(plan.timeline) != seedshape.LONG_TIMELINE:
            plan = seedshape.CasePlan(plan.organisation, plan.drivers, plan.crashes, plan.timeline[:2])
        plans.append(plan)
    if size:
        # The measured case page: five entries and the drivers most cases share.
        plans[0] = seedshape.CasePlan(0, ("SfUemIsoSpace.sys", "aswSP.sys", "oem0001.sys"), plans[0].crashes,
                                      (plans[0].timeline[0],) * 5)  # fmt: skip
    numbers = [f"CAS-{n % 100000:05d}-{''.join(rng.choices(string.ascii_uppercase + string.digits, k=6))}"
               for n in range(size)]  # fmt: skip
    upload_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(size)]
    opened = [now - timedelta(minutes=size - n) for n in range(size)]
    return Seed(plans, numbers, upload_ids, opened, orgs, customers, engineer)


def _case_rows(seed: Seed) -> Iterator[dict[str, object]]:
    states = ["new", "scoping", "awaiting_customer", "investigating", "closed"]
    for n, plan in enumerate(seed.plans):
        yield {
            "id": n + 1,
            "number": seed.numbers[n],
            "title": _title(n, plan),
            "organisation_id": seed.organisations[plan.organisation].pk,
            "customer_contact_id": seed.customers[plan.organisation].pk,
            "owner_id": seed.engineer.pk,
            "opened_by_id": seed.engineer.pk,
            "opened_at": seed.opened[n],
            "state": states[n % 5],
            "closed_at": seed.opened[n] + timedelta(days=3) if n % 5 == 4 else None,
            "severity": ("low", "medium", "high")[n % 3],
        }


def _upload_rows(seed: Seed) -> Iterator[dict[str, object]]:
    from uploads.models import Upload

    for n, plan in enumerate(seed.plans):
        yield {
            "id": seed.upload_ids[n],
            "case_id": n + 1,
            "uploaded_by_id": seed.customers[plan.organisation].pk,
            "filename": "Mini01.dmp",
            "size": 1_000_000,
            "offset": 1_000_000,
            "sha256": f"{n:064x}",
            "state": Upload.State.ANALYSED,
            "kind": Upload.Kind.KERNEL_DUMP,
            "storage_name": f"cases/{seed.numbers[n]}/0",
            "completed_at": seed.opened[n],
            "created_at": seed.opened[n],
        }


def _crash_rows(seed: Seed) -> Iterator[dict[str, object]]:
    for n, plan in enumerate(seed.plans):
        yield {
            "id": n + 1,
            "upload_id": seed.upload_ids[n],
            "case_id": n + 1,
            "index": 0,
            "crash_time": seed.opened[n],
            "code": plan.crashes[0][0],
            "name": plan.crashes[0][1],
            "process_name": "System",
            "third_party_drivers": list(plan.drivers),
            "modules": [{"name": d, "origin": "third_party"} for d in plan.drivers],
            "signature_coarse": seedshape.signature(plan.crashes[0][0], plan.drivers)[0],
            "signature_module": seedshape.signature(plan.crashes[0][0], plan.drivers)[1],
            "raw": {},
        }


def _driver_rows(seed: Seed) -> Iterator[dict[str, object]]:
    for n, plan in enumerate(seed.plans):
        for driver in plan.drivers:
            yield {"crash_id": n + 1, "case_id": n + 1, "name": driver.lower()}


def _finding_rows(seed: Seed) -> Iterator[dict[str, object]]:
    for n, plan in enumerate(seed.plans):
        yield {
            "case_id": n + 1,
            "upload_id": seed.upload_ids[n],
            "seq": 0,
            "severity": "high",
            "code": "third_party_driver",
            "title": f"Third-party driver {plan.drivers[0]} in the crash",
            "created_at": seed.opened[n],
        }


def _timeline_rows(seed: Seed) -> Iterator[dict[str, object]]:
    for n, plan in enumerate(seed.plans):
        for k, (body, internal) in enumerate(plan.timeline):
            yield {
                "case_id": n + 1,
                "kind": "note" if internal else "message",
                "internal": internal,
                "body": body,
                "author_id": seed.engineer.pk,
                "created_at": seed.opened[n] + timedelta(minutes=k),
            }


def _document_rows(seed: Seed) -> Iterator[dict[str, object]]:
    from cases.search_index import CaseTexts, CrashFacts, search_documents

    for n, plan in enumerate(seed.plans):
        code, name = plan.crashes[0]
        texts = CaseTexts(
            number=seed.numbers[n],
            title=_title(n, plan),
            organisation=seed.organisations[plan.organisation].name,
            public=[body for body, internal in reversed(plan.timeline) if not internal],
            internal=[body for body, internal in reversed(plan.timeline) if internal]
            + [f"Third-party driver {plan.drivers[0]} in the crash"],
            crashes=[CrashFacts(code=code, name=name, process="System", drivers=plan.drivers,
                                signatures=seedshape.signature(code, plan.drivers))],
        )  # fmt: skip
        for audience, document in search_documents(texts).items():
            yield {"case_id": n + 1, "audience": audience, **vars(document)}


def _finish(cursor, index_sql: list[str]) -> None:  # type: ignore[no-untyped-def]
    """Indexes built once over every row, counters, sequences and statistics as a live database has them."""
    from analysis.cross_case import marks_rebuild
    from analysis.models import Crash, CrashDriver, Finding
    from cases.models import Case, CaseSearchDocument, TimelineEntry

    cursor.execute("SET maintenance_work_mem = '1GB'")  # GIN builds over millions of rows, in memory
    for statement in index_sql:
        cursor.execute(statement)
    marks_rebuild()  # "seen in N other cases" counters, as the pipeline keeps them
    for model in (Case, Crash, CrashDriver, Finding, TimelineEntry, CaseSearchDocument):
        table = model._meta.db_table
        cursor.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
        )
    cursor.execute("VACUUM ANALYZE")  # visibility map and statistics, as a live database has


def _seed(size: int) -> None:
    from django.db import connection

    from analysis.models import Crash, CrashDriver, Finding
    from cases.models import Case, CaseSearchDocument, TimelineEntry
    from uploads.models import Upload

    if Case.objects.exists():
        return
    started = time.monotonic()
    now = datetime.now(UTC)
    seed = _plan(size, now)
    tables = [
        ("cases", Case, _case_rows),
        ("uploads", Upload, _upload_rows),
        ("crashes", Crash, _crash_rows),
        ("crash drivers", CrashDriver, _driver_rows),
        ("findings", Finding, _finding_rows),
        ("timeline entries", TimelineEntry, _timeline_rows),
        ("search documents", CaseSearchDocument, _document_rows),
    ]
    with connection.cursor() as cursor:
        index_sql = importlib.import_module("cases.migrations.0006_search_documents").POSTGRES_FORWARD[2:]
        cursor.execute("DROP INDEX IF EXISTS cases_search_vector, cases_search_text_trgm")
        counts = {label: _copy(cursor, model, rows(seed), now) for label, model, rows in tables}
        _finish(cursor, index_sql)
    print(
        f"  seeded {size:,} cases in {time.monotonic() - started:.0f} s: "
        + ", ".join(f"{n:,} {what}" for what, n in counts.items()),
        file=sys.stderr,
    )


# -- measuring (child process) ------------------------------------------------------------------------------


def _measure(requests: int) -> dict[str, float]:
    from cases.models import Case

    client = load.verified_manager_client("scale-manager")
    case = Case.objects.order_by("id").values_list("number", flat=True).first()
    figures: dict[str, float] = {}
    for label, path in PAGES:
        url = path.format(case=case)
        for _ in range(2):
            response = client.get(url)
            if response.status_code != 200:
                raise SystemExit(f"{url} answers {response.status_code}")
        times = []
        for _ in range(requests):
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
        figures[label] = statistics.median(times)
    return figures


def _child(size: int, requests: int) -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    _seed(size)
    print(json.dumps(_measure(requests)))


# -- driver ------------------------------------------------------------------------------------------------


def _database(prefix: str, size: int) -> str:
    url = f"{prefix}_{_label(size)}_bench"
    sys.path.insert(0, str(Path(__file__).parent))
    import load

    load._database_ensure(url)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--requests", type=int, default=15)
    parser.add_argument(
        "--database-prefix",
        default=os.environ.get("SCALE_DATABASE_PREFIX", "postgres://postgres@127.0.0.1:5432/portal_scale"),
    )
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child, args.requests)
        return
    results: dict[int, dict[str, float]] = {}
    started = time.monotonic()
    var_dir = tempfile.mkdtemp(prefix="portal-scale-")
    try:
        for size in args.sizes:
            url = _database(args.database_prefix, size)
            env = _env(url, var_dir)
            for command in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"]):
                subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)
            print(f"{size:,} cases ({url.rsplit('/', 1)[-1]}) ...", file=sys.stderr, flush=True)
            done = subprocess.run(
                [sys.executable, __file__, "--child", str(size), "--requests", str(args.requests)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
            )
            sys.stderr.write(done.stderr)
            if done.returncode:
                raise SystemExit(f"measuring {size:,} cases failed")
            results[size] = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)
    sizes = args.sizes
    print(
        f"\nmilliseconds per request (median of {args.requests}, in-process test client, DEBUG off, a manager), "
        f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}, {time.monotonic() - started:.0f} s in all"
    )
    header = "".join(f"{_label(s):>10}" for s in sizes)
    print(f"  {'page':<40}{header}{'factor':>9}")
    for label, _path in PAGES:
        row = "".join(f"{results[s][label]:>10.1f}" for s in sizes)
        factor = results[sizes[-1]][label] / results[sizes[0]][label]
        print(f"  {label:<40}{row}{factor:>8.1f}x")


if __name__ == "__main__":
    main()
