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
from concurrent.futures import Executor, Future, ProcessPoolExecutor
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
    MAX_SHEET_ROWS,
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
    workers: int | None = None,
    sheet_rows: int = MAX_SHEET_ROWS,
) -> ExportResult:
    """Write the export of `scope` into a new folder in `out_dir` and zip it; log it in the
    audit log as done by `actor` (a study ID or ``cli:<user>``, never a name).

    `language` is that of the labels in the Stata/SPSS files and the REDCap dictionary (the
    codebook has all three). `workers` processes make the workbook, the labelled files and
    REDCap from the CSVs (default: one per core, at most 2, from `PARALLEL_FROM_ROWS` rows;
    0 = in this process).

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
        tables, counts = await _write_csvs(session_factory, scope, folder, now, report,
                                           questionnaires, catalogs)
        made, not_in_workbook = await _derive(
            folder, tables, questionnaires, language, report, workbook=workbook,
            workers=_workers(workers, sum(counts.values())), sheet_rows=sheet_rows)
        files = [path for _, _, path, _ in tables] + made
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


def _workers(requested: int | None, rows: int) -> int:
    if requested is not None:
        return max(0, requested)
    # Starting a process (and importing pandas in it) takes a second or two: worth it only
    # when there is real work to share.
    if rows < PARALLEL_FROM_ROWS:
        return 0
    return min(2, os.cpu_count() or 1)


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

    def start(self, name: str, total: int | None) -> Callable[[int, bool], None]:
        self._index += 1
        index = self._index

        def report(done: int, finished: bool) -> None:
            if self._callback is not None:
                self._callback(Progress(name, index, self.steps, done, total, finished))

        report(0, False)
        return report


Table = tuple[str, tuple[Column, ...], Path]


async def _write_csvs(
    session_factory: async_sessionmaker[AsyncSession],
    scope: ExportScope,
    folder: Path,
    now: datetime,
    report: _Reporter,
    questionnaires: Mapping[str, Questionnaire],
    catalogs: Catalogs,
) -> tuple[list[tuple[str, tuple[Column, ...], Path, Dataset | None]], dict[str, int]]:
    counts: dict[str, int] = {}
    tables: list[tuple[str, tuple[Column, ...], Path, Dataset | None]] = []
    async with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            # One snapshot for every query, read-only: long and wide files must agree.
            await session.connection(execution_options={
                "isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
        found = await datasets.build(session, scope, questionnaires)
        report.steps = len(found) + 2 + len(datasets.wide(found)) + 2  # + derived files
        for dataset in found:
            done = report.start(dataset.name, await dataset.count(session))
            path, counts[dataset.name] = await _copy(dataset, session, folder, done)
            tables.append((dataset.name, dataset.columns, path, dataset))
        names = await _names(session, scope)
    book_rows = list(codebook.rows(found, questionnaires, catalogs,
                                   extra=[(codebook.NAME, codebook.COLUMNS),
                                          (INFO, INFO_COLUMNS),
                                          *redcap.codebook_columns(questionnaires)]))
    done = report.start(codebook.NAME, len(book_rows))
    counts[codebook.NAME] = _write_rows(folder, codebook.NAME, codebook.COLUMNS, book_rows, done)
    tables.append((codebook.NAME, codebook.COLUMNS, folder / f"{codebook.NAME}.csv", None))
    info = _info(scope, now, names, counts, questionnaires)
    done = report.start(INFO, len(info))
    counts[INFO] = _write_rows(folder, INFO, INFO_COLUMNS, info, done)
    tables.append((INFO, INFO_COLUMNS, folder / f"{INFO}.csv", None))
    return tables, counts


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


# --- files made from the CSVs, in worker processes ---------------------------------------------

def _make_workbook(path: Path, tables: list[Table], sheet_rows: int) -> list[str]:
    return write_workbook(path, tables, max_rows=sheet_rows)


def _make_labelled(wide: labelled.WideFile, folder: Path, language: str) -> list[Path]:
    return labelled.write_labelled(wide, folder, Catalogs.load().tr(language))


def _make_redcap(folder: Path, questionnaires: Mapping[str, Questionnaire],
                 sources: list[redcap.WideSource], language: str) -> list[Path]:
    tr = Catalogs.load().tr(language)
    return [*redcap.write_dictionary(folder, questionnaires, tr),
            redcap.write_records(folder, questionnaires, sources)]


class _Inline(Executor):
    """Runs jobs at once in this process (`workers=0`)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


async def _derive(
    folder: Path,
    tables: list[tuple[str, tuple[Column, ...], Path, Dataset | None]],
    questionnaires: Mapping[str, Questionnaire],
    language: str,
    report: _Reporter,
    *,
    workbook: bool,
    workers: int,
    sheet_rows: int,
) -> tuple[list[Path], list[str]]:
    """The workbook, the labelled files of each wide dataset and REDCap, made from the CSV
    files in parallel (each is CPU work in Python: processes, not threads)."""
    wides = [d for _, _, _, d in tables if d is not None and d.questionnaire is not None]
    jobs: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = []
    if workbook:
        jobs.append((WORKBOOK, _make_workbook, (folder / WORKBOOK,
                                                [(n, c, p) for n, c, p, _ in tables],
                                                sheet_rows)))
    for d in wides:
        assert d.questionnaire is not None
        wide = labelled.WideFile(d.name, folder / f"{d.name}.csv", d.columns,
                                 questionnaires.get(d.questionnaire[0]), d.items,
                                 dict(d.nonsubstantive or {}))
        jobs.append((f"{d.name} (.dta .sav)", _make_labelled, (wide, folder, language)))
    sources = [redcap.WideSource(d.questionnaire[0], folder / f"{d.name}.csv", d.columns,  # type: ignore[index]
                                 dict(d.nonsubstantive or {})) for d in wides]
    jobs.append(("redcap", _make_redcap, (folder, dict(questionnaires), sources, language)))
    report.steps = report._index + len(jobs)
    executor: Executor = (
        ProcessPoolExecutor(max_workers=workers,
                            mp_context=multiprocessing.get_context("spawn"))
        if workers > 0 else _Inline())
    made: list[Path] = []
    not_in_workbook: list[str] = []
    try:
        running = []
        for name, fn, args in jobs:
            done = report.start(name, 1)
            running.append((name, done, asyncio.wrap_future(executor.submit(fn, *args))))
        for name, done, future in running:
            result = await future
            if name == WORKBOOK:
                made.append(folder / WORKBOOK)
                not_in_workbook = list(result)
            else:
                made += result
            done(1, True)
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    return made, not_in_workbook


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
