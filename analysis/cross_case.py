"""What a case shares with other cases: the third-party drivers and module signatures of its crashes.

Each case's distinct drivers and signatures are ``CaseMark`` rows, and ``MarkCount`` holds how many cases
have each one, moved by the difference whenever a case's findings are recomputed. The case page reads
"seen in N other cases" from the counters in one indexed query instead of counting thousands of crashes
per view. ``marks_rebuild`` recomputes everything (a nightly beat task) so a deleted case or upload never
leaves a counter wrong for long.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import F, Q

from analysis.models import CaseMark, Crash, CrashDriver, MarkCount
from cases.models import Case

Mark = tuple[str, str]


def case_marks(*, case: Case) -> set[Mark]:
    """The drivers and signatures of the case's crashes as they are stored now."""
    drivers = CrashDriver.objects.filter(case=case).values_list("name", flat=True).distinct()
    signatures = (
        Crash.objects.filter(case=case)
        .exclude(signature_module="")
        .values_list("signature_module", flat=True)
    ).distinct()
    return {(CaseMark.Kind.DRIVER, name) for name in drivers} | {
        (CaseMark.Kind.SIGNATURE, signature) for signature in signatures
    }


def _move(marks: set[Mark], by: int) -> None:
    for kind in CaseMark.Kind.values:
        keys = [key for mark_kind, key in marks if mark_kind == kind]
        if keys:
            MarkCount.objects.filter(kind=kind, key__in=keys).update(cases=F("cases") + by)


def case_marks_refresh(*, case: Case) -> tuple[int, int]:
    """Make the case's marks match its crashes and move the counters by the difference; returns how many
    marks were added and removed. The caller holds the case row lock (two refreshes of one case never
    interleave); counters move by atomic updates, so refreshes of other cases may run at once."""
    wanted = case_marks(case=case)
    have = set(CaseMark.objects.filter(case=case).values_list("kind", "key"))
    added, removed = wanted - have, have - wanted
    if removed:
        gone = Q()
        for kind, key in removed:
            gone |= Q(kind=kind, key=key)
        CaseMark.objects.filter(gone, case=case).delete()
        _move(removed, -1)
    if added:
        CaseMark.objects.bulk_create(CaseMark(case=case, kind=kind, key=key) for kind, key in added)
        MarkCount.objects.bulk_create(
            (MarkCount(kind=kind, key=key, cases=0) for kind, key in added), ignore_conflicts=True
        )
        _move(added, +1)
    return len(added), len(removed)


_REBUILD = [
    "DELETE FROM analysis_casemark",
    'INSERT INTO analysis_casemark (case_id, kind, "key") '
    "SELECT DISTINCT case_id, 'driver', name FROM analysis_crashdriver",
    'INSERT INTO analysis_casemark (case_id, kind, "key") '
    "SELECT DISTINCT case_id, 'signature', signature_module FROM analysis_crash WHERE signature_module <> ''",
    "DELETE FROM analysis_markcount",
    'INSERT INTO analysis_markcount (kind, "key", cases) '
    'SELECT kind, "key", COUNT(*) FROM analysis_casemark GROUP BY kind, "key"',
]


def marks_rebuild() -> int:
    """Recompute every mark and counter from the stored crashes, in one transaction (readers keep the old
    rows until it commits); returns the number of counters."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # A refresh committing between the DELETE and the INSERT would collide with the rebuilt rows.
            cursor.execute("LOCK TABLE analysis_casemark, analysis_markcount IN SHARE ROW EXCLUSIVE MODE")
        for statement in _REBUILD:
            cursor.execute(statement)
    return MarkCount.objects.count()
