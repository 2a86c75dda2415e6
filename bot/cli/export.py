"""``mestring export``: a pseudonymised research export on the command line.

Operators with shell access to the bot's host (and so to its database) are trusted like
coordinators of every municipality; the audit log names them ``cli:<os user>``.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from bot.cli.common import fail, settings_or_exit
from dialogs.exports import TELEGRAM_DOCUMENT_LIMIT, ExportError, ExportScope, resolve_scope
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade

if TYPE_CHECKING:
    from dialogs.exports import ExportResult
    from dialogs.exports import Progress as ExportProgress

console = Console(stderr=True)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz)


def export(
    municipality: Annotated[list[str], typer.Option(
        "--municipality", help="Municipality name, e.g. Køge; repeat for more.")],
    team: Annotated[list[str] | None, typer.Option(
        "--team", help='Only this team, e.g. "Hold 3"; repeat for more.')] = None,
    from_: Annotated[datetime | None, typer.Option(
        "--from", formats=["%Y-%m-%d"], help="First day, e.g. 2027-01-01.")] = None,
    to: Annotated[datetime | None, typer.Option(
        "--to", formats=["%Y-%m-%d"], help="Last day (included), e.g. 2027-06-30.")] = None,
    out: Annotated[Path, typer.Option(help="Folder to write the export into.")]
    = Path("exports"),
    free_text: Annotated[bool, typer.Option(
        "--free-text/--no-free-text",
        help="Include typed answers and action-plan wording (they may identify people).")]
    = True,
    part_mb: Annotated[float, typer.Option(
        help="Largest zip part in MB (Telegram takes 50).")] = TELEGRAM_DOCUMENT_LIMIT / 1e6,
    language: Annotated[str | None, typer.Option(
        help="Language of the labels in the Stata/SPSS files and the REDCap dictionary: "
             "da, nb or en (default: MESTRING_DEFAULT_LOCALE).")] = None,
    xlsx: Annotated[bool, typer.Option(
        "--xlsx/--no-xlsx", help="Also write the XLSX workbook (slow for large exports).")]
    = True,
) -> None:
    """Export check-ins, evaluations, scores, plans, attendance, progress and prompt paradata
    as CSV, XLSX and a codebook, by study ID only."""

    settings = settings_or_exit()
    # Days are whole days on the operator's default clock (MESTRING_DEFAULT_TIMEZONE).
    tz = ZoneInfo(settings.default_timezone)
    since = _day_start(from_.date(), tz) if from_ else None
    until = _day_start(to.date() + timedelta(days=1), tz) if to else None
    url = settings.resolved_database_url
    upgrade(url)
    try:
        result = asyncio.run(_export(url, municipality, team or [], since, until, free_text,
                                     out, int(part_mb * 1e6),
                                     language or settings.default_locale, xlsx))
    except (ExportError, ValueError) as exc:
        fail(str(exc))
    _print(result)


async def _export(url: str, municipalities: list[str], teams: list[str],
                  since: datetime | None, until: datetime | None, free_text: bool, out: Path,
                  part_limit: int, language: str, xlsx: bool) -> ExportResult:
    from dialogs.exports import run_export  # the writers and queries: only an export needs them

    engine = create_engine(url)
    try:
        sessions = create_sessionmaker(engine)
        async with sessions() as session:
            scope: ExportScope = await resolve_scope(
                session, municipalities=municipalities, teams=teams, since=since, until=until,
                free_text=free_text)
        with _Bar() as bar:
            return await run_export(sessions, scope, out, _actor(), SystemClock().now(),
                                    bar.update, part_limit=part_limit, language=language,
                                    workbook=xlsx)
    finally:
        await engine.dispose()


class _Bar:
    """Rich progress bars: one for the export as a whole, and one per dataset (and per file
    made from the CSVs) with its rows."""

    def __init__(self) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<32}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=console, transient=False,
        )
        self._datasets: TaskID | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> _Bar:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def update(self, p: ExportProgress) -> None:
        if self._datasets is None:
            self._datasets = self._progress.add_task("datasets", total=p.datasets)
        self._progress.update(self._datasets, total=p.datasets)
        task = self._tasks.get(p.dataset)
        if task is None:
            task = self._tasks[p.dataset] = self._progress.add_task(p.dataset, total=p.total)
        self._progress.update(task, completed=p.done, total=p.total)
        if p.finished:
            self._progress.update(self._datasets, advance=1)


def _print(result: ExportResult) -> None:
    typer.echo(f"folder: {result.folder}")
    for part in result.archives:
        typer.echo(f"zip: {part}")
    for name in result.left_out:
        typer.echo(f"not zipped (larger than one part): {name}")
    for name in result.not_in_workbook:
        typer.echo(f"not in the workbook (more rows than a sheet holds): {name}")
    for name, count in result.counts.items():
        typer.echo(f"{name}: {count} rows")

