"""The export use-case: datasets → CSV files (straight from the database cursor) + codebook →
files made from the CSVs (XLSX workbook, Stata/SPSS files, REDCap) in worker processes →
zip part(s), and an audit-log row.

Reads happen in one transaction (REPEATABLE READ on PostgreSQL; a WAL read transaction on
SQLite), so every file describes the same moment even while participants keep answering; the
files made afterwards are made from the CSVs, so they describe that moment too.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.exports import codebook, datasets, labelled, redcap
from dialogs.exports.archive import TELEGRAM_DOCUMENT_LIMIT, pack
from dialogs.exports.datasets import Column, Dataset, Row, Value
from dialogs.exports.scope import ExportScope
from dialogs.exports.sql import neutralise
from dialogs.exports.writers import (
    CSV_ENCODING,
    WORKBOOK_MAX_ROWS,
    CsvTable,
    csv_cell,
    iso_utc,
    write_workbook,
)
from dialogs.questionnaires import Questionnaire, load_questionnaires
from locales.i18n import N_, SOURCE_LOCALE, SUPPORTED_LOCALES, Catalogs
from storage.engine import create_engine, create_sessionmaker
from storage.models import AuditLog, Municipality, Team

log = logging.getLogger(__name__)

FORMAT_VERSION = "2"
PARALLEL_FROM_ROWS = 50_000
WORKBOOK = "mestring-export.xlsx"
INFO = "export_info"
INFO_COLUMNS = (
    Column("key", "string", N_("What is described")),
    Column("value", "string", N_("Its value")),
)


@dataclass(frozen=True)
class Progress:
    """Where an export is: dataset `index` of `datasets`, `done` of `total` rows."""

    dataset: str
    index: int
    datasets: int
    done: int
    total: int | None
    finished: bool = False


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True)
class ExportResult:
    folder: Path
    files: list[Path]  # every file written, in `folder`
    archives: list[Path]  # the zip part(s) of everything in `files`
    counts: dict[str, int]  # rows per dataset (codebook and export info included)
    left_out: list[str] = field(default_factory=list)  # files too big for one zip part
    not_in_workbook: list[str] = field(default_factory=list)  # datasets over a sheet's rows


async def run_export(
    session_factory: async_sessionmaker[AsyncSession],
    scope: ExportScope,
    out_dir: Path,
    actor: str,
    now: datetime,
    progress: ProgressCallback | None = None,
    *,
    questionnaires: Mapping[str, Questionnaire] | None = None,
    catalogs: Catalogs | None = None,
    part_limit: int = TELEGRAM_DOCUMENT_LIMIT,
    language: str = SOURCE_LOCALE,
    workbook: bool = True,
    parallel: bool | None = None,
    sheet_rows: int = WORKBOOK_MAX_ROWS,
) -> ExportResult:
    """Write the export of `scope` into a new folder in `out_dir` and zip it; log it in the
    audit log as done by `actor` (a study ID or ``cli:<user>``, never a name).

    `language` is that of the labels in the Stata/SPSS files and the REDCap dictionary (the
    codebook has all three). With `parallel` the workbook is written by a worker process,
    sheet by sheet as the CSVs are done, while this process writes the CSVs and then the
    labelled files and REDCap (default: from `PARALLEL_FROM_ROWS` rows, when there are two
    cores).

    The caller has checked that `actor` may see `scope` (see `coordinator_scope`)."""
    if language not in SUPPORTED_LOCALES:
        raise ValueError(f"unknown export language {language!r}; use one of "
                         f"{', '.join(SUPPORTED_LOCALES)}")
    questionnaires = questionnaires if questionnaires is not None else load_questionnaires()
    catalogs = catalogs or Catalogs.load()
    stem = f"mestring-export-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    folder = _new_folder(out_dir, stem)
    report = _Reporter(progress)
    try:
        tables, counts, book = await _write(
            session_factory, scope, folder, now, report, questionnaires, catalogs,
            workbook=workbook, parallel=parallel, sheet_rows=sheet_rows)
        try:
            not_in_workbook: list[str] = []
            if book is not None:
                report.more(1)
                workbook_done = report.start(WORKBOOK, 1)
            # Meanwhile a worker may still be writing the workbook.
            made = await asyncio.to_thread(_derive, folder, tables, questionnaires, language,
                                           report)
            if book is not None:
                not_in_workbook = await book.finish()
                workbook_done(1, True)
                made.append(folder / WORKBOOK)
        except BaseException:
            if book is not None:
                book.abort()
            raise
        files = [t.path for t in tables] + made
        packed = pack(files, out_dir / folder.name, when=now, limit=part_limit)
        async with session_factory() as session, session.begin():
            session.add(AuditLog(
                at=now, actor=actor, action="export",
                subject=",".join(f"municipality:{m}" for m in sorted(scope.municipality_ids)),
                details={"scope": scope.describe(), "counts": counts,
                         "parts": len(packed.parts), "left_out": packed.left_out},
            ))
    except BaseException:
        _discard(folder, out_dir)
        raise
    log.info("export by %s: %s rows in %d part(s)", actor, sum(counts.values()),
             len(packed.parts))
    return ExportResult(folder, files, packed.parts, counts, packed.left_out, not_in_workbook)


async def export_for_chat(
    sessions: async_sessionmaker[AsyncSession],
    scope: ExportScope,
    actor: str,
    now: datetime,
    tmp_dir: Path,
    *,
    part_limit: int = TELEGRAM_DOCUMENT_LIMIT,
    language: str = SOURCE_LOCALE,
) -> list[Path]:
    """An export as zip part(s) of at most 50 MB each, for sending as documents.

    Writing files is CPU work that would hold the bot's event loop (and every reply behind
    it) for seconds, so the export runs in a thread on its own loop and its own engine for the
    same database (and the files made from the CSVs in worker processes). Only the zips are
    left in `tmp_dir`; the caller deletes them once sent."""
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)

    async def in_thread() -> ExportResult:
        engine = create_engine(url)
        try:
            return await run_export(create_sessionmaker(engine), scope, tmp_dir, actor, now,
                                    part_limit=part_limit, language=language)
        finally:
            await engine.dispose()

    result = await asyncio.to_thread(asyncio.run, in_thread())
    await asyncio.to_thread(shutil.rmtree, result.folder, True)
    return result.archives


def _parallel(requested: bool | None, rows: int) -> bool:
    if requested is not None:
        return requested
    # Starting a process takes a second or two: worth it only when there is real work to
    # share, and a second core to share it with.
    return rows >= PARALLEL_FROM_ROWS and (os.cpu_count() or 1) > 1


def _discard(folder: Path, out_dir: Path) -> None:
    # A half-written export is health data nobody asked for and no audit row covers.
    shutil.rmtree(folder, ignore_errors=True)
    for part in out_dir.glob(f"{folder.name}*.zip"):
        part.unlink(missing_ok=True)


def _new_folder(out_dir: Path, stem: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1, 1000):
        folder = out_dir / (stem if n == 1 else f"{stem}-{n}")
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        return folder
    raise FileExistsError(f"too many exports named {stem} in {out_dir}")


class _Reporter:
    """Progress per dataset; the number of steps is known once the datasets are."""

    def __init__(self, callback: ProgressCallback | None) -> None:
        self._callback = callback
        self.steps = 0
        self._index = 0

    def more(self, steps: int) -> None:
        """`steps` more to come after those started so far (the real number, now known)."""
        self.steps = self._index + steps

    def start(self, name: str, total: int | None) -> Callable[[int, bool], None]:
        self._index += 1
        index = self._index

        def report(done: int, finished: bool) -> None:
            if self._callback is not None:
                self._callback(Progress(name, index, self.steps, done, total, finished))

        report(0, False)
        return report




async def _write(
    session_factory: async_sessionmaker[AsyncSession],
    scope: ExportScope,
    folder: Path,
    now: datetime,
    report: _Reporter,
    questionnaires: Mapping[str, Questionnaire],
    catalogs: Catalogs,
    *,
    workbook: bool,
    parallel: bool | None,
    sheet_rows: int,
) -> tuple[list[Written], dict[str, int], _Workbook | None]:
    """Every CSV (the datasets in one read snapshot, the codebook, the export info), each
    handed to the workbook as soon as it is written; returns them, the rows per dataset and
    the workbook still being written."""
    counts: dict[str, int] = {}
    tables: list[Written] = []
    book: _Workbook | None = None
    try:
        async with session_factory() as session, session.begin():
            if session.get_bind().dialect.name == "postgresql":
                # One snapshot for every query, read-only: long and wide files must agree.
                await session.connection(execution_options={
                    "isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
            found = await datasets.build(session, scope, questionnaires)
            totals = [await d.count(session) for d in found]
            if workbook:
                book = _Workbook(folder / WORKBOOK, sheet_rows,
                                 _parallel(parallel, sum(totals)))
            # The datasets, codebook and export info; then the files made from them.
            report.steps = len(found) + 2
            for dataset, total in zip(found, totals, strict=True):
                done = report.start(dataset.name, total)
                path, counts[dataset.name] = await _copy(dataset, session, folder, done)
                tables.append(Written(dataset.name, dataset.columns, path, dataset))
                if book is not None:
                    book.add(tables[-1])
            names = await _names(session, scope)
        book_rows = list(codebook.rows(found, questionnaires, catalogs,
                                       extra=[(codebook.NAME, codebook.COLUMNS),
                                              (INFO, INFO_COLUMNS),
                                              *redcap.codebook_columns(questionnaires)]))
        done = report.start(codebook.NAME, len(book_rows))
        counts[codebook.NAME] = _write_rows(folder, codebook.NAME, codebook.COLUMNS,
                                            book_rows, done)
        tables.append(Written(codebook.NAME, codebook.COLUMNS,
                              folder / f"{codebook.NAME}.csv"))
        info = _info(scope, now, names, counts, questionnaires)
        done = report.start(INFO, len(info))
        counts[INFO] = _write_rows(folder, INFO, INFO_COLUMNS, info, done)
        tables.append(Written(INFO, INFO_COLUMNS, folder / f"{INFO}.csv"))
        if book is not None:
            for table in tables[-2:]:
                book.add(table)
    except BaseException:
        if book is not None:
            book.abort()
        raise
    return tables, counts, book


async def _copy(dataset: Dataset, session: AsyncSession, folder: Path,
                report: Callable[[int, bool], None]) -> tuple[Path, int]:
    table = CsvTable(folder / f"{dataset.name}.csv", [c.name for c in dataset.columns])
    width = len(dataset.columns)
    try:
        async for batch in dataset.batches(session):
            if batch and len(batch[0]) != width:  # a programming error; say where, never what
                raise AssertionError(f"{dataset.name}: row of {len(batch[0])} values for "
                                     f"{width} columns")
            table.write(batch)
            report(table.rows, False)
    finally:
        table.close()
    report(table.rows, True)
    return table.path, table.rows


def _write_rows(folder: Path, name: str, columns: Sequence[Column], rows: Sequence[Row],
                report: Callable[[int, bool], None]) -> int:
    """Rows made in Python (codebook, export info) as a CSV, text neutralised like the
    queries' cells."""
    table = CsvTable(folder / f"{name}.csv", [c.name for c in columns])
    try:
        table.write([[neutralise(v) if isinstance(v, str) else csv_cell(v) for v in row]
                     for row in rows])
    finally:
        table.close()
    report(table.rows, True)
    return table.rows


# --- files made from the CSVs --------------------------------------------------------------

@dataclass(frozen=True)
class Written:
    """A finished CSV file and what it holds."""

    name: str
    columns: tuple[Column, ...]
    path: Path
    dataset: Dataset | None = None

    @property
    def table(self) -> tuple[str, tuple[Column, ...], Path]:
        return (self.name, self.columns, self.path)


def _workbook_process(path: Path, sheet_rows: int, tables: Any, result: Any) -> None:
    """A worker process: a sheet for each (name, columns, csv) put on `tables` until None."""
    try:
        result.put(("ok", write_workbook(path, iter(tables.get, None), max_rows=sheet_rows)))
    except BaseException as exc:  # reported to the export, which fails with it
        result.put(("error", f"{type(exc).__name__}: {exc}"))


class _Workbook:
    """The XLSX workbook, written sheet by sheet as the CSVs are finished: in a worker process
    when `parallel` (XlsxWriter is CPU-bound Python, and the workbook is the slowest file),
    else here at the end."""

    def __init__(self, path: Path, sheet_rows: int, parallel: bool) -> None:
        self._path, self._sheet_rows = path, sheet_rows
        self._tables: list[tuple[str, tuple[Column, ...], Path]] = []
        self._process: Any = None
        if parallel:
            context = multiprocessing.get_context("spawn")
            self._queue: Any = context.Queue()
            self._result: Any = context.Queue()
            self._process = context.Process(
                target=_workbook_process, args=(path, sheet_rows, self._queue, self._result),
                name="mestring-export-workbook", daemon=True)
            self._process.start()

    def add(self, table: Written) -> None:
        if self._process is not None:
            self._queue.put(table.table)
        else:
            self._tables.append(table.table)

    async def finish(self) -> list[str]:
        """The datasets left out (too long for a sheet), once the workbook is saved."""
        if self._process is None:
            return await asyncio.to_thread(write_workbook, self._path, self._tables,
                                           max_rows=self._sheet_rows)
        self._queue.put(None)
        status, value = await asyncio.to_thread(self._result.get)
        await asyncio.to_thread(self._process.join)
        if status != "ok":
            raise RuntimeError(f"writing the workbook failed: {value}")
        return list(value)

    def abort(self) -> None:
        if self._process is not None and self._process.is_alive():
            self._process.terminate()
            self._process.join()


def _derive(folder: Path, tables: Sequence[Written],
            questionnaires: Mapping[str, Questionnaire], language: str,
            report: _Reporter) -> list[Path]:
    """The labelled files of each wide dataset and the REDCap files, from the CSVs (in a
    thread of this process, while a worker may still be writing the workbook)."""
    wides = [t.dataset for t in tables
             if t.dataset is not None and t.dataset.questionnaire is not None]
    tr = Catalogs.load().tr(language)
    report.more(len(wides) + 1)
    made: list[Path] = []
    for d in wides:
        assert d.questionnaire is not None
        done = report.start(f"{d.name} (.dta .sav)", 1)
        made += labelled.write_labelled(labelled.WideFile(
            d.name, folder / f"{d.name}.csv", d.columns,
            questionnaires.get(d.questionnaire[0]), d.items, dict(d.nonsubstantive or {})),
            folder, tr)
        done(1, True)
    done = report.start("redcap", 1)
    sources = [redcap.WideSource(d.questionnaire[0], folder / f"{d.name}.csv", d.columns,  # type: ignore[index]
                                 dict(d.nonsubstantive or {})) for d in wides]
    made += [*redcap.write_dictionary(folder, questionnaires, tr),
             redcap.write_records(folder, questionnaires, sources)]
    done(1, True)
    return made


async def _names(session: AsyncSession, scope: ExportScope) -> tuple[list[str], list[str]]:
    municipalities = list(await session.scalars(
        select(Municipality.name).where(Municipality.id.in_(scope.municipality_ids))
        .order_by(Municipality.name)))
    teams: list[str] = []
    if scope.team_ids is not None:
        teams = [f"{m} / {t}" for m, t in (await session.execute(
            select(Municipality.name, Team.name).join(Team.municipality)
            .where(Team.id.in_(scope.team_ids)).order_by(Municipality.name, Team.name))).all()]
    return municipalities, teams


def _info(scope: ExportScope, now: datetime, names: tuple[list[str], list[str]],
          counts: Mapping[str, int], questionnaires: Mapping[str, Questionnaire]) -> list[Row]:
    municipalities, teams = names
    rows: list[tuple[str, Value]] = [
        ("format_version", FORMAT_VERSION),
        ("generated_at", iso_utc(now)),
        ("municipalities", "; ".join(municipalities)),
        ("teams", "; ".join(teams) if teams else "all"),
        ("from", iso_utc(scope.since) if scope.since else "open"),
        ("until_exclusive", iso_utc(scope.until) if scope.until else "open"),
        ("free_text_included", scope.free_text),
        ("identifiers", "study IDs only; no Telegram ids, chat ids, usernames or names"),
        ("csv_format", f"{CSV_ENCODING}, comma, CRLF, '.' decimals, ISO 8601 UTC times, "
                       "booleans 1/0, empty = missing, text starting with = + - @ tab CR "
                       "prefixed with '"),
        ("score_rounding", f"{datasets.SCORE_DECIMALS} decimals, halves away from zero"),
        ("questionnaire_versions",
         "; ".join(f"{k} {q.version}" for k, q in sorted(questionnaires.items()))),
    ]
    rows += [(f"rows.{name}", count) for name, count in counts.items()]
    return [(k, v if not isinstance(v, bool) else int(v)) for k, v in rows]
