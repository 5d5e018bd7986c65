"""The one CSV writer of the portal: every CSV it writes goes through `csv_response` / `csv_cell`.

Spreadsheets run a cell that starts with a formula character (``=HYPERLINK(...)`` in a call note a client
wrote). As OWASP recommends, such a cell is written with a leading apostrophe, so it is shown as text and
never evaluated; real numbers (``-12.50``, ``+14045550100``) are left alone, since a formula that is only a
number is harmless and a spreadsheet should still add them up. Fields are quoted (RFC 4180), so a separator
inside a value can never start a new cell. Times are ISO 8601 with their offset, in the zone the page
shows them in (the account's). ``csv.writer`` is banned elsewhere (ruff TID251).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

# OWASP "CSV Injection": =, +, -, @, tab, carriage return; also line feed and NUL (ASVS 1.2.10) and the
# full-width forms some spreadsheets fold into them.
FORMULA_STARTS = frozenset("=+-@\t\r\n\0\uff1d\uff0b\uff0d\uff20")
NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(text: str) -> str:
    """The text a spreadsheet shows as written: a leading apostrophe before a formula, numbers untouched."""
    if not text or NUMBER.fullmatch(text):
        return text
    if text[0] in FORMULA_STARTS or text.lstrip(" ")[:1] in FORMULA_STARTS:
        return f"'{text}"
    return text


def csv_cell(value: Any, tz: tzinfo | None = None) -> str:
    """One value as a safe CSV cell: times in ISO 8601 with their offset (in `tz`), yes/no, plain numbers."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, datetime):
        if timezone.is_aware(value) and tz is not None:
            value = value.astimezone(tz)
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return neutralise(", ".join(str(v) for v in value))
    return neutralise(str(value))


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]], tz: tzinfo | None = None) -> Iterator[str]:
    """The CSV text, one line at a time (streams any number of rows in constant memory)."""
    writer = csv.writer(_Echo(), quoting=csv.QUOTE_ALL)
    yield writer.writerow([neutralise(str(h)) for h in header])
    for row in rows:
        yield writer.writerow([csv_cell(value, tz) for value in row])


def csv_response(
    *, filename: str, header: Iterable[str], rows: Iterable[Iterable[Any]], tz: tzinfo | None = None
) -> StreamingHttpResponse:
    """A streamed CSV download."""
    response = StreamingHttpResponse(csv_lines(header, rows, tz), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
