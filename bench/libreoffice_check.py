"""How LibreOffice Calc opens an export: a manual check, not a test (CI has no LibreOffice).

Makes a small export whose free text starts with every formula character, then imports each
CSV with LibreOffice headless (``soffice --convert-to xlsx``) three ways — LibreOffice's
defaults, the options docs/exports.md recommends, and those with "Evaluate formulas" on —
and opens the export's own workbook, and reports per way: formula cells, neutralised cells
that stayed text, numbers read as numbers, and whether æøå survived.

    apt-get install -y libreoffice-calc-nogui
    .venv/bin/python bench/libreoffice_check.py
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from openpyxl import load_workbook
from sqlalchemy import update

from bench.export_data import PLACES, generate
from dialogs.exports import resolve_scope, run_export
from dialogs.exports.sql import FORMULA_STARTS
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import ActionPlan

DANGEROUS = ['=1+1', '=HYPERLINK("http://example.invalid","x")', "+1+1", "-1+1", "@SUM(1,2)",
             "\t=1+1", "\r=1+1"]
# Field separator 44 (comma), text delimiter 34 ("), charset 76 (UTF-8), from line 1, no
# column formats, language 1033 (English, USA), quoted fields not forced to text, detect
# special numbers, then the export-only tokens, and token 13: evaluate formulas.
RECOMMENDED = "44,34,76,1,,1033,false,true,false,false,false,-1,false"
EVALUATING = "44,34,76,1,,1033,false,true,false,false,false,-1,true"


async def _export(folder: Path) -> Path:
    url = f"sqlite:///{folder / 'check.db'}"
    engine = create_engine(url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions.begin() as session:
            await generate(session, 2 * len(DANGEROUS), teams=2)
            for n, text in enumerate(DANGEROUS, start=1):
                await session.execute(update(ActionPlan).where(ActionPlan.id == n)
                                      .values(what=text))
        async with sessions() as session:
            scope = await resolve_scope(session, municipalities=[p.municipality for p in PLACES])
        result = await run_export(sessions, scope, folder / "out", "check", datetime.now(UTC))
        return result.folder
    finally:
        await engine.dispose()


def _convert(source: Path, out: Path, options: str | None) -> Path:
    out.mkdir(exist_ok=True)
    command = ["soffice", "--headless", "--convert-to", "xlsx", "--outdir", str(out)]
    if options is not None:
        command[2:2] = [f"--infilter=CSV:{options}"]
    subprocess.run([*command, str(source)], capture_output=True, check=True, timeout=120)
    return out / f"{source.stem}.xlsx"


def _look(path: Path) -> dict[str, int]:
    book = load_workbook(path)
    seen = {"formulas": 0, "neutralised_text": 0, "numbers": 0, "aeoeaa_ok": 0, "mojibake": 0}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    seen["formulas"] += 1
                elif cell.data_type == "n" and cell.value is not None:
                    seen["numbers"] += 1
                elif isinstance(cell.value, str):
                    text = cell.value
                    if text[:1] == "'" and text[1:2] in FORMULA_STARTS:
                        seen["neutralised_text"] += 1
                    seen["aeoeaa_ok"] += any(ch in text for ch in "æøå")
                    seen["mojibake"] += "Ã" in text
    return seen


def main() -> None:
    if shutil.which("soffice") is None:
        sys.exit("soffice not found: apt-get install -y libreoffice-calc-nogui")
    version = subprocess.run(["soffice", "--version"], capture_output=True, text=True).stdout
    print(version.strip())
    with tempfile.TemporaryDirectory(prefix="mestring-lo-") as tmp:
        upgrade(f"sqlite:///{Path(tmp) / 'check.db'}")
        folder = asyncio.run(_export(Path(tmp)))
        for name in ("action_plans", "participants"):
            source = folder / f"{name}.csv"
            for label, options in (("LibreOffice defaults", None),
                                   ("recommended options", RECOMMENDED),
                                   ("recommended + evaluate formulas", EVALUATING)):
                converted = _convert(source, Path(tmp) / label.replace(" ", "_"), options)
                print(f"{name}.csv, {label}: {_look(converted)}")
        print(f"mestring-export.xlsx as written: {_look(folder / 'mestring-export.xlsx')}")
        reopened = subprocess.run(
            ["soffice", "--headless", "--convert-to", "xlsx", "--outdir",
             str(Path(tmp) / "reopened"), str(folder / "mestring-export.xlsx")],
            capture_output=True, check=True, timeout=120)
        assert reopened.returncode == 0
        print("mestring-export.xlsx opened and saved by LibreOffice: "
              f"{_look(Path(tmp) / 'reopened' / 'mestring-export.xlsx')}")


if __name__ == "__main__":
    main()
