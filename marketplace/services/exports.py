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

The XLSX export (`write_xlsx`) uses the same cells: openpyxl turns any `str` that begins with `=`
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


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Sheet = tuple[str, Iterable[Any], Iterable[Iterable[Any]]]  # title, header, rows


def write_xlsx(sheets: Iterable[Sheet]) -> bytes:
    """A workbook with one sheet per (title, header, rows): every cell through `safe_cell`, text as string cells."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, header, rows in sheets:
        sheet = book.create_sheet(str(title)[:31])  # Excel's limit for a sheet name
        for row_number, row in enumerate((header, *rows), start=1):
            for column, value in enumerate(row, start=1):
                cell = sheet.cell(row_number, column, safe_cell(value))
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # never a formula, whatever the text begins with
                if row_number == 1:
                    cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_response(data: bytes, filename: str) -> Response:
    """An .xlsx download (as made by `write_xlsx`)."""
    return _download(data, XLSX_MIMETYPE, filename)


def csv_response(text: str, filename: str) -> Response:
    """A CSV download (as made by `write_csv`) that browsers save and proxies do not keep."""
    return _download(text.encode("utf-8"), "text/csv", filename)


def _download(data: bytes, mimetype: str, filename: str) -> Response:
    return Response(
        data, mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
