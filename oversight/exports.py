"""CSV exports safe to open in a spreadsheet: every download of portal data goes through csv_response.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (``=HYPERLINK(...)`` in a user name reached the audit CSV as is). Such a
cell gets a leading apostrophe, which the spreadsheet shows as text and hides (OWASP, CSV injection).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """The value as written to the CSV: text that a spreadsheet would evaluate is neutralised; numbers
    and other values are left as they are (a negative number is not a formula)."""
    if isinstance(value, bool | int | float) or value is None:
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_response(filename: str, header: list[str], rows: Iterable[list[object]]) -> StreamingHttpResponse:
    """Stream the rows as CSV (a BOM first, so spreadsheet programs read Chinese text as UTF-8), every
    cell through csv_cell."""
    writer = csv.writer(_Echo())

    def lines() -> Iterable[str]:
        yield "\ufeff" + writer.writerow([csv_cell(cell) for cell in header])
        for row in rows:
            yield writer.writerow([csv_cell(cell) for cell in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
