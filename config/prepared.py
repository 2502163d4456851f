"""Queries the ORM builds once per process and every request runs with its own value.

The smallest signed-in request (the live case page polls it every few seconds) runs two lookups: the
signed-in user by id and the case's version by number. Building each with the ORM took ten times the
work of sending it and reading the answer (about a million CPU instructions against ninety thousand, on
a query PostgreSQL answers from an index). A ``PreparedLookup`` keeps the SQL the ORM compiled from the
queryset the first time, so the model and its fields stay the only source of the statement, and runs it
again with the new value: the same statement, the same rows, as fresh as the database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet


class PreparedLookup:
    """``build(value)`` is a queryset whose one parameter is ``value`` (a filter on one field); its SQL is
    compiled on the first call and run with each later value. Model querysets give instances (as loaded
    by the ORM), ``values_list`` querysets give tuples."""

    def __init__(self, build: Callable[[Any], QuerySet[Any]], sample: Any) -> None:
        self._build = build
        self._sample = sample
        self._compiled: _Compiled | None = None

    def _compile(self) -> _Compiled:
        queryset = self._build(self._sample)
        compiler = queryset.query.get_compiler(DEFAULT_DB_ALIAS)
        sql, params = compiler.as_sql()
        # A queryset with more than the one value (a second filter, a limit, a constant) would run with
        # the wrong parameters: refuse it here rather than answer wrongly later.
        if list(params) != [self._sample]:
            raise ValueError(f"a prepared lookup takes one parameter, this query has {params!r}")
        columns = [column for column, _sql, _alias in compiler.select]
        # What the ORM does to each value read (a date stored as text on SQLite, say), kept by position.
        converters = [
            (position, functions, expression)
            for position, (functions, expression) in compiler.get_converters(columns).items()
        ]
        if getattr(queryset, "_fields", None) is None:  # a model queryset: rows become instances
            return _Compiled(sql, converters, queryset.model, [column.target.attname for column in columns])
        return _Compiled(sql, converters, None, [])

    def first(self, value: Any) -> Any:
        """The first row for ``value`` (an instance or a tuple), or ``None``."""
        if self._compiled is None:
            self._compiled = self._compile()
        compiled = self._compiled
        connection = connections[DEFAULT_DB_ALIAS]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, [value])
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = list(row)
            for position, functions, expression in compiled.converters:
                for function in functions:
                    row[position] = function(row[position], expression, connection)
            row = tuple(row)
        if compiled.model is None:
            return row
        return compiled.model.from_db(DEFAULT_DB_ALIAS, compiled.names, row)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    converters: list[tuple[int, list[Callable[..., Any]], Any]]
    model: type[Model] | None  # None: rows are tuples (a values_list queryset)
    names: list[str]  # the model's attribute per column
