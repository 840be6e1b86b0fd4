"""Spreadsheet exports: what people typed reaches a spreadsheet as text, never as a formula.

Every export cell goes through `safe_cell` (OWASP "CSV injection", ASVS 1.2.10). A text that begins
with `=`, `+`, `-`, `@`, tab, carriage return or NUL is what Excel, LibreOffice and Google Sheets
start a formula with, so it gets a leading `'`: the cell is then read as text (some programs show
the `'`, a small price against a formula that runs). Numbers (int, float, Decimal; never bool) stay
numbers, negative ones included: their text form is digits, one sign, a point and an exponent, which
no spreadsheet can run, and a manager sorting scores wants numbers. A *text* that looks like a
number ("-5" typed as a goal title) is still text and gets the prefix: we cannot tell "-1+1" from
"-1".

CSV files start with a UTF-8 byte order mark, without which Excel reads UTF-8 as Windows-1252
and shows "MÃ¼ller" for "Müller"; `csv` reads such a file back with the `utf-8-sig` encoding.

The XLSX export (a later issue) uses the same cells: openpyxl turns any `str` that begins with `=`
into a formula, so it writes `cell = sheet.cell(row, column, safe_cell(value))` and then, for every
`str` value, sets `cell.data_type = "s"`: text is a string cell, never a formula, and numbers stay
numeric cells. The leading `'` then shows in such a cell; it is kept anyway, so that a sheet saved
again as CSV from Excel stays harmless.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask import Response

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")
BOM = "\ufeff"
Cell = str | int | float | Decimal


def safe_cell(value: Any) -> Cell:
    """A value as a spreadsheet cell: None is empty, numbers stay numbers, text never starts a formula."""
    if value is None:
        return ""
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(header: Iterable[Any], rows: Iterable[Iterable[Any]]) -> str:
    """A whole CSV file as text: a BOM, then the header and the rows, every cell through `safe_cell`."""
    out = io.StringIO()
    out.write(BOM)
    writer = csv.writer(out)
    for row in (header, *rows):
        writer.writerow([safe_cell(value) for value in row])
    return out.getvalue()


def csv_response(text: str, filename: str) -> Response:
    """A CSV download (as made by `write_csv`) that browsers save and proxies do not keep."""
    return Response(
        text.encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
