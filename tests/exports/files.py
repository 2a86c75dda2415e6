"""Reading an export back the way its users will: `csv` for the CSV files, openpyxl for the
workbook, zipfile for the parts."""

from __future__ import annotations

import csv
import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pyreadstat
from openpyxl import load_workbook

BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[dict[str, str]]

    def column(self, name: str) -> list[str]:
        return [row[name] for row in self.rows]


def parse_csv(data: bytes) -> Table:
    assert data.startswith(BOM), "CSV files start with a UTF-8 byte-order mark"
    reader = csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""))
    header = next(reader)
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    return Table(header, rows)


def read_csv(path: Path) -> Table:
    return parse_csv(path.read_bytes())


def read_csvs(folder: Path) -> dict[str, Table]:
    return {path.stem: read_csv(path) for path in sorted(folder.glob("*.csv"))}


def read_xlsx(source: Path | bytes) -> dict[str, list[tuple[object, ...]]]:
    handle = io.BytesIO(source) if isinstance(source, bytes) else source
    book = load_workbook(handle, read_only=True)
    try:
        return {sheet.title: [tuple(row) for row in sheet.iter_rows(values_only=True)]
                for sheet in book.worksheets}
    finally:
        book.close()


def zip_members(parts: list[Path]) -> dict[str, bytes]:
    """Every member of every part by its name (names never repeat across parts)."""
    found: dict[str, bytes] = {}
    for part in parts:
        with zipfile.ZipFile(part) as archive:
            assert archive.testzip() is None
            for name in archive.namelist():
                assert name not in found, f"{name} is in two parts"
                found[name] = archive.read(name)
    return found


def all_text(folder: Path, parts: list[Path]) -> str:
    """Everything a reader can see in the files, as one string: CSV text, every workbook cell
    (also the workbook inside the zips) and every zip member."""
    chunks: list[str] = []
    for path in folder.iterdir():
        if path.suffix == ".csv":
            chunks.append(path.read_text(encoding="utf-8-sig"))
        elif path.suffix == ".xlsx":
            chunks.append(_cells(read_xlsx(path)))
        else:
            chunks.append(read_labelled(path))
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in zip_members(parts).items():
            chunks.append(name)
            if name.endswith(".xlsx"):
                chunks.append(_cells(read_xlsx(data)))
            elif name.endswith((".dta", ".sav")):
                copy = Path(tmp) / Path(name).name
                copy.write_bytes(data)
                chunks.append(read_labelled(copy))
            else:
                chunks.append(data.decode("utf-8-sig"))
    return "\n".join(chunks)


def read_labelled(path: Path) -> str:
    """Every cell and label of a Stata or SPSS file, as text."""
    read = pyreadstat.read_dta if path.suffix == ".dta" else pyreadstat.read_sav
    frame, meta = read(str(path))
    return "\n".join([frame.to_csv(index=False), str(meta.column_labels),
                      str(meta.variable_value_labels), str(meta.file_label)])


def _cells(sheets: dict[str, list[tuple[object, ...]]]) -> str:
    return "\n".join(f"{title}\t" + "\t".join("" if v is None else str(v) for v in row)
                     for title, rows in sheets.items() for row in rows)
