"""Writing files: CSV from row batches, and reading finished CSVs back as typed values for
the files made from them (the XLSX workbook, the Stata and SPSS files, REDCap).

CSV: UTF-8 with a byte-order mark, comma-separated, RFC 4180 quoting, CRLF line ends, a header
row and no index column; decimals with a point; times ISO 8601 in UTC ("2027-01-08T10:00:00Z");
booleans 1/0; missing values empty; text that starts with = + - @ tab or carriage return has a
leading apostrophe (OWASP's advice against CSV injection). The cells come formatted from the
queries (`dialogs.exports.sql`) or from the Python shapes of `datasets`, so writing is
`csv.writer.writerows`, batch by batch.

Every other file is made from the finished CSV files, so all formats hold the same cells.
The XLSX workbook is written with XlsxWriter in constant-memory mode (each sheet streamed to a
temporary file, strings inline): typed cells (numbers, date-times in UTC, text), never a
formula.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from dialogs.exports.datasets import Column, Row, Value

CSV_ENCODING = "utf-8-sig"
# Excel's limit, header row included. A longer dataset is left out of the workbook (with a
# note on its notes sheet): its CSV holds it.
MAX_SHEET_ROWS = 1_048_576  # what a sheet holds, header included
# The workbook is for looking at the data in a spreadsheet; a dataset longer than this is for
# statistics software (its CSV, .dta and .sav), and writing it into a sheet would take minutes.
WORKBOOK_MAX_ROWS = 100_000
MAX_SHEET_NAME = 31
NOTES_SHEET = "notes"
XLSX_DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"


def private_file(path: Path, mode: str = "w") -> IO[Any]:
    """Open a new file readable by its owner only: exports hold health data."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if "b" in mode:
        return os.fdopen(fd, mode)
    return os.fdopen(fd, mode, encoding=CSV_ENCODING, newline="")


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def csv_cell(value: Value) -> Value:
    """A Python value as the CSV format writes it (the query-made rows need none of this)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


class CsvTable:
    """One dataset as a CSV file, written a batch of ready rows at a time."""

    def __init__(self, path: Path, header: Sequence[str]) -> None:
        self.path = path
        self._fh = private_file(path)
        self._writer = csv.writer(self._fh, lineterminator="\r\n")
        self._writer.writerow(header)
        self.rows = 0

    def write(self, rows: Sequence[Row]) -> None:
        # csv writes None as an empty cell and floats by repr (shortest exact form).
        self._writer.writerows(rows)
        self.rows += len(rows)

    def close(self) -> None:
        self._fh.close()


def read_typed(path: Path, columns: Sequence[Column]) -> Iterator[list[Value]]:
    """The rows of a finished CSV file as Python values by column type (empty → None)."""
    convert = [_CONVERTERS[c.type] for c in columns]
    with path.open(encoding=CSV_ENCODING, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            yield [None if text == "" else f(text) for f, text in zip(convert, row, strict=True)]


def _number(text: str) -> int | float:
    try:
        return int(text)
    except ValueError:
        return float(text)


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text)


_CONVERTERS: dict[str, Any] = {
    "string": str, "integer": int, "boolean": int, "number": _number, "datetime": _datetime,
}


def csv_rows(path: Path) -> int:
    """Data rows of a finished CSV file (records, not lines: a cell may hold a line break)."""
    with path.open(encoding=CSV_ENCODING, newline="") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def write_workbook(path: Path, tables: Iterable[tuple[str, Sequence[Column], Path]], *,
                   max_rows: int = MAX_SHEET_ROWS, tmpdir: Path | None = None) -> list[str]:
    """One sheet per finished CSV file that fits a sheet; returns the names left out (they
    are listed on a notes sheet)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)  # created private; XlsxWriter writes into it
    import xlsxwriter  # here, not at the top: only exports need it, the bot starts without

    book = xlsxwriter.Workbook(str(path), {
        "constant_memory": True, "tmpdir": str(tmpdir or path.parent),
        # Text stays text: no formulas, URLs or numbers made from participants' words.
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    })
    bold = book.add_format({"bold": True})
    when = book.add_format({"num_format": XLSX_DATETIME_FORMAT})
    names: set[str] = set()
    left_out: list[tuple[str, int]] = []
    try:
        for name, columns, source in tables:
            rows = csv_rows(source)
            if rows + 1 > max_rows:
                left_out.append((name, rows))
                continue
            sheet = book.add_worksheet(_sheet_name(name, names))
            sheet.freeze_panes(1, 0)
            sheet.write_row(0, 0, [c.name for c in columns], bold)
            kinds = [c.type for c in columns]
            for r, values in enumerate(read_typed(source, columns), start=1):
                for c, value in enumerate(values):
                    if value is None:
                        continue
                    kind = kinds[c]
                    if kind == "string":
                        sheet.write_string(r, c, value)  # type: ignore[arg-type]
                    elif kind == "datetime":
                        sheet.write_datetime(r, c, value.replace(tzinfo=None),  # type: ignore[union-attr]
                                             when)
                    else:
                        sheet.write_number(r, c, value)  # type: ignore[arg-type]
        if left_out:
            notes = book.add_worksheet(_sheet_name(NOTES_SHEET, names))
            notes.write_row(0, 0, ["dataset", "rows", "note"], bold)
            for r, (name, rows) in enumerate(left_out, start=1):
                notes.write_row(r, 0, [name, rows, f"more rows than the workbook takes "
                                                   f"({max_rows - 1:,}); see {name}.csv"])
    finally:
        book.close()
    return [name for name, _ in left_out]


def _sheet_name(name: str, taken: set[str]) -> str:
    return short_unique(name, MAX_SHEET_NAME, taken)


def short_unique(name: str, limit: int, taken: set[str]) -> str:
    """`name` cut to `limit` characters, with ``_2``, ``_3``, … until no name in `taken`
    (compared without case) is the same; the result is added to `taken`."""
    short = name[:limit]
    number = 2
    while short.lower() in taken:
        suffix = f"_{number}"
        short = name[: limit - len(suffix)] + suffix
        number += 1
    taken.add(short.lower())
    return short
