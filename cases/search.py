"""Search across everything an engineer remembers of a case (reads; documents are built by
``cases.search_index``).

A query is split into terms (a quoted phrase is one term); a case matches when every term is found in the
document its reader may read: the customer's document never holds an internal note, a draft scope, a
finding or a crash, and the cases searched are those ``case_visible_queryset`` allows. Each term matches:

- a bug check or exception code (``0xBE``, ``0x000000be``, ``BE``) by its canonical form among the terms;
- a Chinese (Japanese, Korean) word of two characters by the indexed two-character pieces, a longer one as
  a substring of the text (trigram index);
- anything else by full-text search (English stemming, or the whole word: a driver's name, a signature);
  when no case matches by whole words, inside words (part of a driver name or case number) through the
  trigram index. Both are PostgreSQL GIN indexes.

Results are ranked (``ts_rank``: number, title, codes, drivers and signatures weigh most), newest first
among equals; only the newest ``SEARCH_CANDIDATES`` matches are ranked, so a page costs the same whatever
the number of cases. On SQLite every term is a case-insensitive substring (codes by their canonical form): the
same cases for the tests, without stemming or ranking.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db import connection, transaction
from django.db.models import Case as Choose
from django.db.models import Expression, F, FilteredRelation, Q, QuerySet, Value, When
from django.db.models.fields import FloatField
from django.utils.safestring import SafeString, mark_safe

from accounts.capabilities import can_see_internal
from accounts.models import User
from cases.models import Case, CaseSearchDocument
from cases.search_index import CJK_RUN, code_forms

MAX_TERMS = 8
MAX_TERM_CHARS = 100
# Substring matches need three characters: the trigram index cannot serve fewer.
SUBSTRING_MIN_CHARS = 3
SNIPPET_CHARS = 160
# The newest matches that are ranked and shown: past this many, a reader narrows the search.
SEARCH_CANDIDATES = 1_000

_TOKENS = re.compile(r'"([^"]+)"|(\S+)')
_HEX = re.compile(r"^(0x)?[0-9a-f]{1,8}$", re.IGNORECASE)


@dataclass(frozen=True)
class Term:
    """One thing the reader typed: ``kind`` is ``code``, ``cjk`` or ``text`` (a word or quoted phrase)."""

    kind: str
    text: str
    codes: tuple[str, ...] = ()  # canonical code forms a ``code`` term (or a hex-looking word) matches

    @property
    def pattern(self) -> str:
        """A regular expression that finds this term in a document's text (for highlights)."""
        alternatives = [re.escape(self.text)] if self.kind != "code" else []
        for code in self.codes:
            alternatives.append(rf"0x0*{re.escape(code[2:])}(?![0-9a-f])")
        return "|".join(alternatives)


def search_terms(query: str) -> list[Term]:
    """The terms of a query, at most ``MAX_TERMS``; a Chinese run inside a word is a term of its own."""
    terms: list[Term] = []
    for quoted, word in _TOKENS.findall(query or ""):
        raw = (quoted or word).strip()[:MAX_TERM_CHARS]
        for piece in _split_cjk(raw):
            terms.append(_term(piece, phrase=bool(quoted)))
    seen: dict[Term, None] = {}
    for term in terms:
        seen.setdefault(term, None)
    return list(seen)[:MAX_TERMS]


def _split_cjk(text: str) -> list[str]:
    pieces, last = [], 0
    for found in CJK_RUN.finditer(text):
        pieces.extend([text[last : found.start()], found.group()])
        last = found.end()
    pieces.append(text[last:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _term(text: str, *, phrase: bool) -> Term:
    if CJK_RUN.fullmatch(text):
        return Term("cjk", text)
    if not phrase and _HEX.match(text):
        codes = tuple(code_forms(text))
        # "0xBE" and a bare code of two digits ("BE", "7E") are codes; a longer hex word ("124", "dead",
        # "1000007E") may be a code or a word, so it matches either.
        if text.lower().startswith("0x") or len(text) <= 2:
            return Term("code", text, codes)
        return Term("text", text, codes)
    return Term("text", text)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


def _term_queries(term: Term) -> list[SearchQuery]:
    """The full-text queries of a term (any one matching will do)."""
    queries = [SearchQuery(code, config="simple", search_type="plain") for code in term.codes]
    if term.kind == "text":
        # English stems words ("crashes"); simple keeps names whole ("SfUemIsoSpace", a driver's base name).
        queries.append(SearchQuery(term.text, config="english", search_type="phrase"))
        queries.append(SearchQuery(term.text, config="simple", search_type="phrase"))
    elif term.kind == "cjk" and len(term.text) >= 2:
        pieces = [
            SearchQuery(term.text[i : i + 2], config="simple", search_type="plain")
            for i in range(len(term.text) - 1)
        ]
        every = pieces[0]
        for piece in pieces[1:]:
            every &= piece
        queries.append(every)
    return queries


def _term_q(term: Term, *, substring: bool) -> Q:
    """The condition on the reader's document (joined as ``search_doc``) for one term. ``substring`` also
    matches the term inside words (driver names in part, pieces of a case number) through the trigram
    index: slower, as common trigrams ("sys", "0x0") are in most documents, so only a fallback."""
    if not _postgres():
        condition = Q()
        if term.kind != "code":
            condition |= Q(search_doc__text__icontains=term.text)
        for code in term.codes:
            condition |= Q(search_doc__terms__contains=f" {code} ")
        return condition
    if term.kind == "cjk" and len(term.text) != 2:
        # The word as a substring (trigram index). Its two-character pieces ANDed would match the same
        # documents, but the planner multiplies their frequencies: a phrase in 40 % of a million cases was
        # planned as rare and took 6 s against 60 ms for the substring, which it estimates well.
        return Q(search_doc__text__icontains=term.text)
    condition = Q()
    for query in _term_queries(term):
        condition |= Q(search_doc__vector=query)
    if substring and term.kind == "text" and len(term.text) >= SUBSTRING_MIN_CHARS:
        condition |= Q(search_doc__text__icontains=term.text)
    return condition


def _rank_query(terms: list[Term]) -> SearchQuery | None:
    combined: SearchQuery | None = None
    for term in terms:
        for part in _term_queries(term):
            combined = part if combined is None else combined | part
    return combined


def _newest(matching: QuerySet[Case]) -> list[int]:
    """The ids of the newest ``SEARCH_CANDIDATES`` matches, read once (the page's count and its rows would
    each find them again as a subquery). Ranking reads every match's vector: a driver on 40 % of a million
    cases would cost seconds, so only these are ranked (and counted) and a page costs the same at any size.
    PostgreSQL's parallel workers are kept out of it: starting them took longer than the index reads they
    share (bench/scale.py, a million cases)."""
    newest = matching.order_by("-opened_at", "-id").values_list("pk", flat=True)[:SEARCH_CANDIDATES]
    if not _postgres():
        return list(newest)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        return list(newest)


def case_search(*, user: User, query: str, cases: QuerySet[Case]) -> QuerySet[Case]:
    """The cases among ``cases`` that match every term of ``query``, best first, each with ``search_rank``
    and ``search_text`` (for ``search_highlight``). Only the cases the user may see are ever searched:
    ``cases`` is a filtered ``cases.selectors.case_visible_queryset(user)``."""
    terms = search_terms(query)
    if not terms:
        return cases.order_by("-opened_at", "-id")
    audience = (
        CaseSearchDocument.Audience.STAFF if can_see_internal(user) else CaseSearchDocument.Audience.CUSTOMER
    )
    cases = cases.annotate(
        search_doc=FilteredRelation("search_documents", condition=Q(search_documents__audience=audience))
    )
    matching = cases
    for term in terms:
        matching = matching.filter(_term_q(term, substring=False))
    newest = _newest(matching)
    if _postgres() and not newest:
        # Nothing by whole words: look inside them (one more query, only for such searches).
        matching = cases
        for term in terms:
            matching = matching.filter(_term_q(term, substring=True))
        newest = _newest(matching)
    # The reader's own queryset again (its filters, joins and annotations), narrowed to those matches.
    cases = cases.filter(pk__in=newest)
    rank_query = _rank_query(terms) if _postgres() else None
    rank: Expression
    if rank_query is not None:
        rank = SearchRank(F("search_doc__vector"), rank_query)
    else:
        # SQLite: a term in the head (number, title, organisation, codes, drivers) ranks first.
        rank = Choose(
            When(search_doc__head__icontains=terms[0].text, then=Value(1.0)),
            default=Value(0.0),
            output_field=FloatField(),
        )
    return cases.annotate(search_rank=rank, search_text=F("search_doc__text")).order_by(
        "-search_rank", "-opened_at", "-id"
    )


def search_highlight(text: str, query: str, *, length: int = SNIPPET_CHARS) -> SafeString:
    """Where ``query`` was found in a document's text: a short, escaped excerpt with each term in
    ``<mark>``; empty when no term is found literally (a stemmed match)."""
    terms = search_terms(query)
    patterns = [term.pattern for term in terms if term.pattern]
    if not text or not patterns:
        return mark_safe("")  # noqa: S308 - a constant
    finder = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    first = finder.search(text)
    if first is None:
        return mark_safe("")  # noqa: S308 - a constant
    start = max(0, first.start() - length // 3)
    # Start and end at a line or word boundary where there is one near: excerpts read better.
    line_start = text.rfind("\n", 0, first.start()) + 1
    if line_start > start:
        start = line_start
    end = min(len(text), start + length)
    line_end = text.find("\n", first.end())
    if first.end() <= line_end < end:
        end = line_end
    excerpt = text[start:end]
    parts, last = [], 0
    for found in finder.finditer(excerpt):
        parts.append(escape(excerpt[last : found.start()]))
        parts.append(f"<mark>{escape(found.group())}</mark>")
        last = found.end()
    parts.append(escape(excerpt[last:]))
    prefix = "… " if start > 0 and text[start - 1] != "\n" else ""
    suffix = " …" if end < len(text) and text[end] != "\n" else ""
    return mark_safe(prefix + "".join(parts).replace("\n", " ") + suffix)  # noqa: S308 - escaped above
