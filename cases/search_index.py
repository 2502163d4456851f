"""Search documents: what search reads of each case, rebuilt from the case's rows (writes).

Every case write raises the case's live version through ``cases.live.case_touch`` (the services' audit
records call it, and so do the pipeline's writes), which also queues the case here (one upsert); no signal
does: a case written around the services (a script, a test factory) is queued by calling
``case_search_mark``. ``case_search_sweep`` (Celery beat, every few seconds) rebuilds the queued cases'
documents in batches, a fixed number of queries per batch, so a write never pays for a long timeline and a
crash between the write and the rebuild loses nothing: the queue row is still there. Readers are in
``cases.search``.

Two documents per case: the customer's holds what a customer may read (the case, customer-visible
timeline entries, sent scope versions, summaries); the staff one adds internal notes, draft scopes,
findings and crashes (codes, names, drivers, signatures).
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from string import hexdigits

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from analysis.models import Crash, Finding
from cases.models import Case, CaseSearchDocument, CaseSearchQueue, CaseSummary, ScopeVersion, TimelineEntry

# Chinese, Japanese and Korean runs: the parsers of PostgreSQL do not split them into words, so their
# two-character pieces are indexed as terms (a two-character word is the most common Chinese word) and
# longer words match as substrings through the trigram index.
CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+")
HEX_IN_TEXT = re.compile(r"(?<![0-9a-z_])0x[0-9a-f]{1,8}(?![0-9a-z_])", re.IGNORECASE)

# One piece (a note, a finding) and one document are cut: a tsvector holds at most 1 MB, and every write
# of a case with a very long timeline rebuilds its document. Newest timeline entries are kept first.
PIECE_CHARS = 4_000
DOCUMENT_CHARS = 200_000


def code_canonical(value: str) -> str | None:
    """A bug check or exception code in one spelling: ``0xBE``, ``0x000000be`` and ``BE`` are ``0xbe``."""
    text = value.strip().lower()
    if text.startswith("0x"):
        text = text[2:]
    if not text or len(text) > 8 or any(char not in hexdigits for char in text):
        return None
    return "0x" + (text.lstrip("0") or "0")


def code_forms(value: str) -> list[str]:
    """The canonical code and, for a ``_M`` code (``0x1000007e``), the code it stands for (``0x7e``)."""
    canonical = code_canonical(value)
    if canonical is None:
        return []
    number = int(canonical, 16)
    if number >> 28 == 1 and number & 0x0FFFFFFF:
        return [canonical, f"0x{number & 0x0FFFFFFF:x}"]
    return [canonical]


def cjk_bigrams(text: str) -> set[str]:
    """Every two-character piece of every Chinese (Japanese, Korean) run of ``text``."""
    pieces: set[str] = set()
    for run in CJK_RUN.findall(text):
        pieces.update(run[i : i + 2] for i in range(len(run) - 1))
    return pieces


@dataclass(frozen=True)
class CrashFacts:
    """What an engineer remembers of a crash: its code, name, process, culprit, drivers and signatures."""

    code: str = ""
    name: str = ""
    process: str = ""
    culprit: str = ""
    drivers: tuple[str, ...] = ()
    signatures: tuple[str, ...] = ()
    exception_code: str = ""
    exception_name: str = ""
    title: str = ""


@dataclass
class CaseTexts:
    """A case's searchable texts, split by who may read them (``public``: anyone who sees the case)."""

    number: str
    title: str
    organisation: str = ""
    product: str = ""
    external_reference: str = ""
    description: str = ""
    public: list[str] = field(default_factory=list)
    internal: list[str] = field(default_factory=list)
    crashes: list[CrashFacts] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentTexts:
    head: str
    text: str
    terms: str


def _unique(pieces: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for piece in pieces:
        piece = (piece or "").strip()[:PIECE_CHARS]
        if piece:
            seen.setdefault(piece, None)
    return list(seen)


def _document(
    head_pieces: list[str], body_pieces: list[str], codes: Iterable[str], drivers: Iterable[str] = ()
) -> DocumentTexts:
    head = "\n".join(_unique(head_pieces))
    text = "\n".join(_unique([head, *body_pieces]))[:DOCUMENT_CHARS]
    terms = {form for code in codes for form in code_forms(code)}
    # A driver is remembered without its extension as often as with it ("SfUemIsoSpace").
    terms.update(name.rsplit(".", 1)[0].lower() for name in drivers if "." in name)
    terms.update(form for found in HEX_IN_TEXT.findall(text) for form in code_forms(found))
    terms.update(cjk_bigrams(text))
    return DocumentTexts(head=head, text=text, terms=f" {' '.join(sorted(terms))} " if terms else "")


def search_documents(case: CaseTexts) -> dict[str, DocumentTexts]:
    """The customer's and the staff document of one case (plain Python: the seeders call it too)."""
    head = [case.number, case.title, case.organisation]
    body = [case.product, case.external_reference, case.description]
    crash_head: list[str] = []
    codes: list[str] = []
    for crash in case.crashes:
        crash_head.append(
            " ".join(filter(None, [crash.code, crash.name, crash.exception_code, crash.exception_name]))
        )
        crash_head.extend([crash.title, crash.process, crash.culprit, *crash.drivers, *crash.signatures])
        codes.extend(filter(None, [crash.code, crash.exception_code]))
    return {
        CaseSearchDocument.Audience.CUSTOMER: _document(head, [*body, *case.public], []),
        CaseSearchDocument.Audience.STAFF: _document(
            [*head, *crash_head],
            [*body, *case.public, *case.internal],
            codes,
            [driver for crash in case.crashes for driver in crash.drivers],
        ),
    }


def _case_texts(case_ids: list[int]) -> dict[int, CaseTexts]:
    """The texts of these cases in seven queries, whatever their number or the length of their timelines."""
    texts = {
        case.pk: CaseTexts(
            number=case.number,
            title=case.title,
            organisation=case.organisation.name,
            product=case.product,
            external_reference=case.external_reference,
            description=case.description,
        )
        for case in Case.objects.filter(pk__in=case_ids).select_related("organisation")
    }
    _add_writing(texts)
    _add_findings(texts)
    _add_crashes(texts)
    return texts


def _add_writing(texts: dict[int, CaseTexts]) -> None:
    """What people wrote: summaries and sent scopes lead, then the timeline newest first, so what a long
    document cuts is the oldest talk. Draft scopes and internal notes are staff's only."""
    ids = list(texts)
    for case_id, *parts in (
        CaseSummary.objects.filter(case_id__in=ids)
        .order_by("-version")
        .values_list("case_id", "problem_description", "analysis", "resolution")
    ):
        texts[case_id].public.extend(parts)
    for case_id, sent_at, *parts in (
        ScopeVersion.objects.filter(case_id__in=ids)
        .order_by("-version")
        .values_list("case_id", "sent_at", "problem_definition", "scope", "next_steps")
    ):
        (texts[case_id].public if sent_at else texts[case_id].internal).extend(parts)
    for case_id, internal, body in (
        TimelineEntry.objects.filter(case_id__in=ids)
        .order_by("-created_at", "-id")
        .values_list("case_id", "internal", "body")
    ):
        (texts[case_id].internal if internal else texts[case_id].public).append(body)


def _add_findings(texts: dict[int, CaseTexts]) -> None:
    for case_id, *parts in (
        Finding.objects.filter(case_id__in=list(texts))
        .order_by("upload_id", "seq")
        .values_list(
            "case_id", "title", "title_zh", "detail", "detail_zh", "recommendation", "recommendation_zh"
        )
    ):
        texts[case_id].internal.extend(parts)


_CRASH_FIELDS = (
    "code",
    "name",
    "process_name",
    "culprit_module",
    "exception_code",
    "exception_name",
    "title",
)


def _add_crashes(texts: dict[int, CaseTexts]) -> None:
    for row in Crash.objects.filter(case_id__in=list(texts)).values(
        "case_id",
        *_CRASH_FIELDS,
        "third_party_drivers",
        "signature_coarse",
        "signature_module",
        "signature_frames",
    ):
        texts[row["case_id"]].crashes.append(
            CrashFacts(
                code=row["code"],
                name=row["name"],
                process=row["process_name"],
                culprit=row["culprit_module"],
                drivers=tuple(str(name) for name in row["third_party_drivers"] or ()),
                signatures=(row["signature_coarse"], row["signature_module"], row["signature_frames"]),
                exception_code=row["exception_code"],
                exception_name=row["exception_name"],
                title=row["title"],
            )
        )


def case_search_refresh(*, case_ids: Iterable[int]) -> int:
    """Rebuild the search documents of these cases (gone cases are skipped); returns how many cases."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    rows = [
        CaseSearchDocument(case_id=case_id, audience=audience, **vars(document))
        for case_id, texts in _case_texts(ids).items()
        for audience, document in search_documents(texts).items()
    ]
    CaseSearchDocument.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["case", "audience"],
        update_fields=["head", "text", "terms", "built_at"],
    )
    return len(rows) // 2


def case_search_mark(*, case_id: int) -> None:
    """Queue the case for the sweep (one upsert; called by ``case_touch`` inside the writer's transaction)."""
    CaseSearchQueue.objects.bulk_create(
        [CaseSearchQueue(case_id=case_id, touched_at=timezone.now())],
        update_conflicts=True,
        unique_fields=["case"],
        update_fields=["touched_at"],
    )


def case_search_sweep(*, batch: int = 200, budget_seconds: float = 20.0) -> int:
    """Rebuild the documents of queued cases, oldest first, until the queue is empty or the time budget is
    spent; returns how many cases were rebuilt. Safe to run twice at once (the work is only repeated)."""
    deadline = time.monotonic() + budget_seconds
    done = 0
    while time.monotonic() < deadline:
        pending = list(
            CaseSearchQueue.objects.order_by("touched_at").values_list("case_id", "touched_at")[:batch]
        )
        if not pending:
            break
        with transaction.atomic():
            case_search_refresh(case_ids=[case_id for case_id, _ in pending])
            # A case written again during the rebuild has a newer time: its row stays for the next round.
            by_time: dict[datetime, list[int]] = defaultdict(list)
            for case_id, touched_at in pending:
                by_time[touched_at].append(case_id)
            done_rows = Q()
            for touched_at, case_ids in by_time.items():
                done_rows |= Q(case_id__in=case_ids, touched_at=touched_at)
            CaseSearchQueue.objects.filter(done_rows).delete()
        done += len(pending)
    return done
