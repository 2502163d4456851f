"""Counts of long lists, shared for a short while.

A list's count is a ``COUNT(*)`` over every row its reader may see with their filters: at a million cases
it was most of the case list's and the cases API's time (bench/scale.py: 20 ms at 10,000 cases, 70 ms at
1,000,000). Rows are always read live; the count is kept ``COUNT_SECONDS`` under a key made of the count
query's SQL and parameters, so every reader of the same list (same visibility, same filters) shares one
``COUNT(*)`` per interval. Only a count of ``SHARE_FROM`` rows or more is shared: a smaller one costs
little and is always exact (a case just opened is counted at once), and a large one lags the rows by at
most that long.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from typing import TypeVar

from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Paginator
from django.db.models import QuerySet
from rest_framework.pagination import PageNumberPagination

COUNT_SECONDS = 30
SHARE_FROM = 5_000

_T = TypeVar("_T")


class SharedCountPaginator(Paginator[_T]):
    """Django's paginator whose count, when large, is shared ``COUNT_SECONDS`` by readers of the same
    query."""

    @cached_property
    def count(self) -> int:
        rows = self.object_list
        if not isinstance(rows, QuerySet):
            return super().count
        # The key is the count's own SQL: what is counted (the filters), without the columns, joins and
        # order of the rows, which cost more to compile than the cached count saves.
        query = rows.query.chain()
        query.clear_select_clause()
        query.clear_ordering(force=True)
        try:
            sql, params = query.sql_with_params()
        except EmptyResultSet:  # a filter that matches nothing, such as ``pk__in=[]``
            return 0
        digest = hashlib.sha256(repr((rows.db, sql, params)).encode()).hexdigest()[:32]
        key = f"list-count:{digest}"
        count = cache.get(key)
        if count is None:
            count = rows.count()
            if count >= SHARE_FROM:
                cache.set(key, count, COUNT_SECONDS)
        return int(count)


class SharedCountPagination(PageNumberPagination):
    """The API's pagination (``{"count", "next", "previous", "results"}``) with the shared count."""

    django_paginator_class = SharedCountPaginator
