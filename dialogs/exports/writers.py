"""Writing rows: CSV files and an XLSX workbook, both streamed.

CSV: UTF-8 with a byte-order mark, comma-separated, RFC 4180 quoting, CRLF line ends, a header
row and no index column; decimals with a point; times ISO 8601 in UTC ("2027-01-08T10:00:00Z");
booleans 1/0; missing values empty. The BOM is what makes Excel and LibreOffice pick UTF-8 for
æøå; pandas (`read_csv`) and R (`read.csv` in a UTF-8 locale, R ≥ 3.0) drop it.

XLSX: openpyxl's write-only mode streams each sheet to a temporary file and writes strings
inline (no shared-strings table in memory), so a workbook of millions of cells stays small in
memory. Times are real date cells (UTC, as Excel has no zones); text that looks like a formula
or an error code is stored as text, never evaluated.
"""

from __future__ import annotations

import csv
import os
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from dialogs.exports.datasets import Value

CSV_ENCODING = "utf-8-sig"
# Excel's limit; a longer dataset continues on a sheet named "<name>_2", "<name>_3", ….
MAX_SHEET_ROWS = 1_048_576
MAX_SHEET_NAME = 31
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
_HEADER_FONT = Font(bold=True)


def private_file(path: Path) -> IO[Any]:
    """Open a new file readable by its owner only: exports hold health data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return os.fdopen(fd, "w", encoding=CSV_ENCODING, newline="")


def csv_cell(value: Value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr: the shortest text that reads back as the same float, always with a point.
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    return str(value)


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


class CsvTable:
    """One dataset as a CSV file."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self._fh = private_file(path)
        self._writer = csv.writer(self._fh, lineterminator="\r\n")
        self._writer.writerow(header)
        self.rows = 0

    def write(self, row: tuple[Value, ...]) -> None:
        self._writer.writerow([csv_cell(v) for v in row])
        self.rows += 1

    def close(self) -> None:
        self._fh.close()


class XlsxBook:
    """A write-only workbook; sheets are written one after another."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._book = Workbook(write_only=True)
        self._names: set[str] = set()

    def sheet(self, name: str, header: list[str]) -> XlsxSheet:
        return XlsxSheet(self, name, header)

    def _new_sheet(self, name: str) -> WriteOnlyWorksheet:
        title = name[:MAX_SHEET_NAME]
        number = 2
        while title.lower() in self._names:
            suffix = f"_{number}"
            title = name[: MAX_SHEET_NAME - len(suffix)] + suffix
            number += 1
        self._names.add(title.lower())
        return self._book.create_sheet(title)

    def save(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            self._book.save(fh)

    def __enter__(self) -> XlsxBook:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if kind is None:
            self.save()


class XlsxSheet:
    def __init__(self, book: XlsxBook, name: str, header: list[str]) -> None:
        self._book = book
        self._name = name
        self._header = header
        self._sheet = self._start()
        self._rows_on_sheet = 1
        self.rows = 0

    def _start(self) -> WriteOnlyWorksheet:
        sheet = self._book._new_sheet(self._name)
        sheet.freeze_panes = "A2"
        cells = []
        for name in self._header:
            cell = WriteOnlyCell(sheet, value=name)
            cell.font = _HEADER_FONT
            cells.append(cell)
        sheet.append(cells)
        return sheet

    def write(self, row: tuple[Value, ...]) -> None:
        if self._rows_on_sheet >= MAX_SHEET_ROWS:
            self._sheet = self._start()
            self._rows_on_sheet = 1
        self._sheet.append([self._cell(v) for v in row])
        self._rows_on_sheet += 1
        self.rows += 1

    def _cell(self, value: Value) -> Any:
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, datetime):
            cell = WriteOnlyCell(self._sheet, value=value.astimezone(UTC).replace(tzinfo=None))
            cell.number_format = XLSX_DATETIME_FORMAT
            return cell
        if isinstance(value, str):
            # Control characters are not allowed in XLSX (openpyxl would raise, quoting the
            # text); answers are cleaned on input, this guards older or imported rows.
            text = ILLEGAL_CHARACTERS_RE.sub("", value)
            if text.startswith("=") or text in ERROR_CODES:
                cell = WriteOnlyCell(self._sheet, value=text)
                cell.data_type = "s"  # a participant's "=…" is text, not a formula
                return cell
            return text
        return value

    def close(self) -> None:
        pass  # write-only sheets are finished when the workbook is saved
