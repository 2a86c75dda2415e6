"""The export use-case: datasets → CSV files + one XLSX workbook + codebook → zip part(s), and
an audit-log row.

Reads happen in one transaction (REPEATABLE READ on PostgreSQL; a WAL read transaction on
SQLite), so every file describes the same moment even while participants keep answering.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.exports import codebook, datasets
from dialogs.exports.archive import TELEGRAM_DOCUMENT_LIMIT, pack
from dialogs.exports.datasets import Column, Dataset, Row, Value
from dialogs.exports.scope import ExportScope
from dialogs.exports.writers import CSV_ENCODING, CsvTable, XlsxBook, XlsxSheet, iso_utc
from dialogs.questionnaires import Questionnaire, load_questionnaires
from locales.i18n import Catalogs
from storage.engine import create_engine, create_sessionmaker
from storage.models import AuditLog, Municipality, Team

log = logging.getLogger(__name__)

FORMAT_VERSION = "1"
WORKBOOK = "mestring-export.xlsx"
PROGRESS_EVERY = 500
INFO = "export_info"
INFO_COLUMNS = (
    Column("key", "string", "What is described"),
    Column("value", "string", "Its value"),
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
    files: list[Path]  # the CSV files and the workbook, in `folder`
    archives: list[Path]  # the zip part(s) of everything in `files`
    counts: dict[str, int]  # rows per dataset (codebook and export info included)
    left_out: list[str] = field(default_factory=list)  # files too big for one zip part


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
) -> ExportResult:
    """Write the export of `scope` into a new folder in `out_dir` and zip it; log it in the
    audit log as done by `actor` (a study ID or ``cli:<user>``, never a name).

    The caller has checked that `actor` may see `scope` (see `coordinator_scope`)."""
    questionnaires = questionnaires if questionnaires is not None else load_questionnaires()
    catalogs = catalogs or Catalogs.load()
    stem = f"mestring-export-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    folder = _new_folder(out_dir, stem)
    try:
        files, counts = await _write(session_factory, scope, folder, now, progress,
                                     questionnaires, catalogs)
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
    return ExportResult(folder, files, packed.parts, counts, packed.left_out)


async def export_for_chat(
    sessions: async_sessionmaker[AsyncSession],
    scope: ExportScope,
    actor: str,
    now: datetime,
    tmp_dir: Path,
    *,
    part_limit: int = TELEGRAM_DOCUMENT_LIMIT,
) -> list[Path]:
    """An export as zip part(s) of at most 50 MB each, for sending as documents.

    Writing CSV and XLSX is CPU work that would hold the bot's event loop (and every reply
    behind it) for seconds, so the export runs in a thread on its own loop and its own engine
    for the same database. Only the zips are left in `tmp_dir`; the caller deletes them once
    sent."""
    url = sessions.kw["bind"].url.render_as_string(hide_password=False)

    async def in_thread() -> ExportResult:
        engine = create_engine(url)
        try:
            return await run_export(create_sessionmaker(engine), scope, tmp_dir, actor, now,
                                    part_limit=part_limit)
        finally:
            await engine.dispose()

    result = await asyncio.to_thread(asyncio.run, in_thread())
    await asyncio.to_thread(shutil.rmtree, result.folder, True)
    return result.archives


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


async def _write(
    session_factory: async_sessionmaker[AsyncSession],
    scope: ExportScope,
    folder: Path,
    now: datetime,
    progress: ProgressCallback | None,
    questionnaires: Mapping[str, Questionnaire],
    catalogs: Catalogs,
) -> tuple[list[Path], dict[str, int]]:
    counts: dict[str, int] = {}
    files: list[Path] = []
    book = XlsxBook(folder / WORKBOOK)
    async with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            # One snapshot for every query, read-only: long and wide files must agree.
            await session.connection(execution_options={
                "isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
        found = await datasets.build(session, scope, questionnaires)
        n = len(found) + 2  # the codebook and the export info
        for index, dataset in enumerate(found, start=1):
            total = await dataset.count(session)
            counts[dataset.name] = await _copy(
                dataset.name, dataset.columns, _aiter(session, dataset), folder, book, files,
                lambda done, fin, name=dataset.name, i=index, t=total: _report(
                    progress, name, i, n, done, t, fin),
            )
        names = await _names(session, scope)
    book_rows = list(codebook.rows(found, questionnaires, catalogs,
                                   extra=[(codebook.NAME, codebook.COLUMNS),
                                          (INFO, INFO_COLUMNS)]))
    counts[codebook.NAME] = await _copy(
        codebook.NAME, codebook.COLUMNS, _from(book_rows), folder, book, files,
        lambda done, fin: _report(progress, codebook.NAME, n - 1, n, done, len(book_rows), fin))
    info = _info(scope, now, names, counts, questionnaires)
    counts[INFO] = await _copy(
        INFO, INFO_COLUMNS, _from(info), folder, book, files,
        lambda done, fin: _report(progress, INFO, n, n, done, len(info), fin))
    book.save()
    files.append(book.path)
    return files, counts


async def _aiter(session: AsyncSession, dataset: Dataset):  # type: ignore[no-untyped-def]
    async for row in dataset.rows(session):
        yield row


async def _from(rows: Sequence[Row]):  # type: ignore[no-untyped-def]
    for row in rows:
        yield row


async def _copy(
    name: str,
    columns: Sequence[Column],
    rows,  # type: ignore[no-untyped-def]  # AsyncIterator[Row]
    folder: Path,
    book: XlsxBook,
    files: list[Path],
    report: Callable[[int, bool], None],
) -> int:
    header = [c.name for c in columns]
    table = CsvTable(folder / f"{name}.csv", header)
    sheet: XlsxSheet = book.sheet(name, header)
    done = 0
    report(0, False)
    try:
        async for row in rows:
            if len(row) != len(header):  # a programming error; say where, never what
                raise AssertionError(f"{name}: row of {len(row)} values for {len(header)} "
                                     "columns")
            table.write(row)
            sheet.write(row)
            done += 1
            if done % PROGRESS_EVERY == 0:
                report(done, False)
    finally:
        table.close()
    files.append(table.path)
    report(done, True)
    return done


def _report(progress: ProgressCallback | None, name: str, index: int, n: int, done: int,
            total: int | None, finished: bool) -> None:
    if progress is not None:
        progress(Progress(name, index, n, done, total, finished))


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
                       "booleans 1/0, empty = missing"),
        ("questionnaire_versions",
         "; ".join(f"{k} {q.version}" for k, q in sorted(questionnaires.items()))),
    ]
    rows += [(f"rows.{name}", count) for name, count in counts.items()]
    return [(k, v if not isinstance(v, bool) else int(v)) for k, v in rows]
