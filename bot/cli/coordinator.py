"""``mestring team …`` and ``mestring invite …``: coordinator work on the command line."""

from __future__ import annotations

import asyncio
import getpass
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.helpers import create_deep_linked_url

from bot.cli.common import fail, settings_or_exit
from bot.settings import Settings, SettingsError
from dialogs import coordinator
from dialogs.coordinator_holidays import Flag, HolidayChoice, holiday_names
from locales.i18n import SUPPORTED_LOCALES, Catalogs, Tr
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import InviteRole

team_app = typer.Typer(no_args_is_help=True, help="Teams and their webinars.")
invite_app = typer.Typer(no_args_is_help=True, help="Invite links for participants and staff.")
coordinator_app = typer.Typer(no_args_is_help=True, help="Coordinators and their municipalities.")
console = Console()
T = TypeVar("T")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _run_in_transaction(
    settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    url = settings.resolved_database_url
    upgrade(url)

    async def go() -> T:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(go())


def bot_username(settings: Settings) -> str:
    """From MESTRING_BOT_USERNAME, else asked from Telegram (getMe) with the token."""
    if settings.bot_username:
        return _checked_username(settings.bot_username.removeprefix("@"))
    try:
        token = settings.require_token()
    except SettingsError:
        raise SettingsError(
            "MESTRING_BOT_USERNAME is not set and there is no MESTRING_TELEGRAM_TOKEN to ask "
            "Telegram for it: set one of them"
        ) from None

    async def ask() -> str:
        root = settings.telegram_api_url
        async with Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot") as bot:
            return bot.username

    return asyncio.run(ask())


def _link(username: str, code: str) -> str:
    return create_deep_linked_url(username, code)


def _checked_username(username: str) -> str:
    """Refuse a username Telegram would never issue, before anything is written."""
    try:
        create_deep_linked_url(username, "check")
    except ValueError as exc:
        raise SettingsError(f"MESTRING_BOT_USERNAME {username!r} is not a bot username: {exc}") \
            from None
    return username


def _write_qr(link: str, path: Path) -> None:
    """A PNG only its owner can read: every invite QR is a live link, a coordinator's one
    grants access to a municipality's research data."""
    import segno  # only here: every other command, `run` included, goes without it

    # High error correction: printed posters get folded, scuffed and photographed at angles.
    code = segno.make(link, error="h")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    with os.fdopen(fd, "wb") as out:
        code.save(out, kind="png", scale=10, border=4)


def _qr_folder_or_exit(folder: Path | None) -> None:
    """Make sure QR codes can be written before an invite is saved, not after."""
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot write QR codes into {folder}: {exc.strerror or exc}")
    if not os.access(folder, os.W_OK | os.X_OK):
        fail(f"cannot write QR codes into {folder}: not writable")


def _file_label(text: str) -> str:
    """A file-name-safe version of a label such as "coordinator (Køge/Nord)"."""
    kept = "".join(c if c.isalnum() or c in "-_" else "-" for c in text)
    return "-".join(part for part in kept.split("-") if part) or "invite"


@team_app.command("create")
def team_create(
    municipality: Annotated[str, typer.Option(help="Municipality name, e.g. Køge.")],
    name: Annotated[str, typer.Option(help='Team name, e.g. "Hold 3".')],
    first_session: Annotated[
        datetime, typer.Option(formats=["%Y-%m-%dT%H:%M"],
                               help="First webinar, local time: 2027-01-07T19:00.")
    ],
    webinar_url: Annotated[str | None, typer.Option(help="Join link of the webinars.")] = None,
    language: Annotated[str | None, typer.Option(help="da, nb or en.")] = None,
    country: Annotated[str | None, typer.Option(help="DK or NO, for a new municipality.")]
    = None,
    timezone: Annotated[str | None, typer.Option(help="IANA zone; default the municipality's.")]
    = None,
    qr_dir: Annotated[Path | None, typer.Option(help="Also write QR code PNGs here.")] = None,
    skip_holidays: Annotated[bool, typer.Option(
        "--skip-holidays", help="Leave out weeks whose webinar is on a holiday.")] = False,
    keep_holidays: Annotated[bool, typer.Option(
        "--keep-holidays", help="Keep webinars on holidays where they are.")] = False,
) -> None:
    """Create a team with six weekly webinars and print its invite links.

    Webinars on public holidays or in the usual school holidays are flagged first: without
    --skip-holidays or --keep-holidays, nothing is saved and the dates are listed."""

    settings = settings_or_exit()
    if language is not None and language not in SUPPORTED_LOCALES:
        fail("--language must be da, nb or en")
    if skip_holidays and keep_holidays:
        fail("choose one of --skip-holidays and --keep-holidays")
    choice = (HolidayChoice.SKIP if skip_holidays else HolidayChoice.KEEP if keep_holidays
              else HolidayChoice.ASK)
    _qr_folder_or_exit(qr_dir)
    tr = Catalogs.load().tr("en")
    try:
        username = bot_username(settings)
        created = _run_in_transaction(settings, lambda s: coordinator.create_team_with_invites(
            s, municipality_name=municipality, team_name=name, first_session_local=first_session,
            webinar_url=webinar_url, language=language, country=country, timezone=timezone,
            now=SystemClock().now(), actor=_actor(), holidays=choice,
        ))
    except coordinator.HolidaysFound as found:
        for flag in found.plan.flagged:
            typer.echo(_flag_line(tr, flag))
        fail(f"{len(found.plan.flagged)} webinar(s) fall on holidays, so nothing was saved: run "
             f"again with --skip-holidays (those weeks are left out and the course runs over "
             f"{found.weeks_if_skipped} weeks) or --keep-holidays")
    except (SettingsError, coordinator.CoordinatorError) as exc:
        fail(str(exc))
    tz = ZoneInfo(created.team.timezone)
    table = Table(title=f"{created.municipality.name} – {created.team.name}")
    table.add_column("module")
    table.add_column("webinar (local time)")
    for number, start in enumerate(created.session_starts, start=1):
        table.add_row(str(number), start.astimezone(tz).strftime("%a %Y-%m-%d %H:%M %Z"))
    console.print(table)
    planned = created.holidays
    for flag in planned.skipped if planned else ():
        typer.echo(f"skipped the week of {flag.day.isoformat()}: "
                   f"{', '.join(holiday_names(tr, flag))}")
    for flag in planned.flagged if planned else ():
        typer.echo(f"kept on a holiday: {_flag_line(tr, flag)}")
    _print_invite("participants", username, created.participant_invite.code,
                  created.participant_invite.invite.id, qr_dir)
    _print_invite("instructor", username, created.instructor_invite.code,
                  created.instructor_invite.invite.id, qr_dir)


def _flag_line(tr: Tr, flag: Flag) -> str:
    """One flagged webinar: "webinar 3: Fri 2027-12-24 19:00 – Christmas Eve, …"."""
    when = flag.starts_at.astimezone(ZoneInfo(flag.zone)).strftime("%a %Y-%m-%d %H:%M")
    return f"webinar {flag.module_no}: {when} – {', '.join(holiday_names(tr, flag))}"


def _print_invite(whom: str, username: str, code: str, invite_id: int, qr_dir: Path | None) -> None:
    link = _link(username, code)
    # One plain line per invite, so it can be copied or grepped: "<whom>: <link>".
    typer.echo(f"{whom}: {link}")
    typer.echo(f"  (invite {invite_id}; revoke with: mestring invite revoke {invite_id})")
    if qr_dir is not None:
        path = qr_dir / f"invite-{invite_id}-{_file_label(whom)}.png"
        _write_qr(link, path)
        typer.echo(f"  QR code: {path}")


@invite_app.command("create")
def invite_create(
    municipality: Annotated[str, typer.Option(help="Municipality name.")],
    team: Annotated[str, typer.Option(help="Team name.")],
    role: Annotated[str, typer.Option(help="participants or instructor.")] = "participants",
    days: Annotated[int | None, typer.Option(help="Valid for this many days.")] = None,
    qr: Annotated[Path | None, typer.Option(help="Write a QR code PNG into this folder.")] = None,
) -> None:
    """Make a new invite link for a team."""

    roles = {"participants": InviteRole.PARTICIPANT, "participant": InviteRole.PARTICIPANT,
             "instructor": InviteRole.INSTRUCTOR}
    if role not in roles:
        fail("--role must be participants or instructor")
    settings = settings_or_exit()
    _qr_folder_or_exit(qr)
    try:
        username = bot_username(settings)
        new = _run_in_transaction(settings, lambda s: coordinator.new_team_invite(
            s, municipality_name=municipality, team_name=team, role=roles[role],
            valid_for=timedelta(days=days) if days else None,
            now=SystemClock().now(), actor=_actor(),
        ))
    except (SettingsError, coordinator.CoordinatorError) as exc:
        fail(str(exc))
    whom = "participants" if roles[role] is InviteRole.PARTICIPANT else "instructor"
    _print_invite(whom, username, new.code, new.invite.id, qr)


@invite_app.command("revoke")
def invite_revoke(invite_id: Annotated[int, typer.Argument(help="The invite's number.")]) -> None:
    """Stop an invite link from working."""

    settings = settings_or_exit()
    try:
        _run_in_transaction(settings, lambda s: coordinator.revoke(
            s, invite_id, now=SystemClock().now(), actor=_actor()
        ))
    except coordinator.CoordinatorError as exc:
        fail(str(exc))
    typer.echo(f"invite {invite_id} revoked")


@team_app.command("list")
def team_list(
    municipality: Annotated[str | None, typer.Option(help="Only this municipality.")] = None,
) -> None:
    """List teams with their first webinar and number of participants."""

    settings = settings_or_exit()
    rows = _run_in_transaction(settings, lambda s: coordinator.team_overview(s, municipality))
    table = Table(title="Teams")
    for column in ("municipality", "team", "first webinar (local)", "participants"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.municipality, row.team,
                      row.first_webinar.strftime("%Y-%m-%d %H:%M %Z") if row.first_webinar
                      else "–", str(row.participants))
    console.print(table)


@coordinator_app.command("grant")
def coordinator_grant(
    municipality: Annotated[list[str], typer.Option(help="Municipality; repeat for more.")],
    days: Annotated[int, typer.Option(help="The invite works for this many days.")] = 14,
    qr: Annotated[Path | None, typer.Option(help="Write QR code PNGs into this folder.")] = None,
) -> None:
    """Make single-use coordinator invite links, one per municipality."""

    settings = settings_or_exit()
    _qr_folder_or_exit(qr)
    try:
        username = bot_username(settings)
        made = _run_in_transaction(settings, lambda s: coordinator.coordinator_invites(
            s, municipality, now=SystemClock().now(), actor=_actor(),
            valid_for=timedelta(days=days),
        ))
    except (SettingsError, coordinator.CoordinatorError) as exc:
        fail(str(exc))
    for name, new in made:
        _print_invite(f"coordinator ({name})", username, new.code, new.invite.id, qr)


@coordinator_app.command("list")
def coordinator_list() -> None:
    """Who coordinates which municipality (grant numbers for revoking)."""

    settings = settings_or_exit()
    rows = _run_in_transaction(settings, coordinator.list_grants_plain)
    table = Table(title="Coordinators")
    for column in ("grant", "municipality", "name", "granted", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


@coordinator_app.command("revoke")
def coordinator_revoke(grant_id: Annotated[int, typer.Argument(help="The grant number.")]) -> None:
    """Take a municipality away from a coordinator."""

    settings = settings_or_exit()
    try:
        _run_in_transaction(settings, lambda s: coordinator.revoke_grant(
            s, grant_id, now=SystemClock().now(), actor=_actor()
        ))
    except coordinator.CoordinatorError as exc:
        fail(str(exc))
    typer.echo(f"coordinator grant {grant_id} revoked")
