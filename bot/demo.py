"""``mestring demo``: the whole bot on this machine, with you as a participant.

No token and no network: the local Bot API server runs on loopback, the bot talks to it as it
would to Telegram, and the terminal plays the participant's phone. The bot's messages are
printed with numbered buttons; typing a number presses that button, anything else is sent as
text, ``/quit`` ends. With ``--script`` (or when standard input is not a terminal) the lines are
read from there, which is how the tests drive it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.local_api import SimMessage
from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.coordinator_holidays import HolidayChoice, plan
from dialogs.course import open_module
from dialogs.invites import create_invite
from storage import queries
from storage.clock import Clock, SystemClock
from storage.models import Consent, InviteRole, Person

DEMO_USER_ID = 424242
DEMO_FIRST_NAME = "Demo"
DEMO_MUNICIPALITY = "Demo Kommune"
DEMO_TEAM = "Demohold"
DEMO_WEBINAR_URL = "https://webinar.example.org/demohold"
QUIT = "/quit"
INVITE = "/invite"
DEMO_CONSENT_VERSION = "demo"


def first_webinar(now: datetime, tz: ZoneInfo) -> datetime:
    """Thursday of next week at 19:00 local time."""
    local = now.astimezone(tz)
    next_monday = (local + timedelta(days=7 - local.weekday())).date()
    thursday = next_monday + timedelta(days=3)
    return datetime(thursday.year, thursday.month, thursday.day, 19, 0, tzinfo=tz)


async def seed_demo(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, *, language: str = "da",
    enrol: bool = True,
) -> str:
    """A demo municipality and team with six weekly webinars from next week, idempotently;
    with ``enrol`` the demo participant is already in it (consent recorded as demo data).
    Returns a fresh participant invite code for the team (only its hash is stored)."""
    tz = ZoneInfo("Europe/Copenhagen")
    async with sessions.begin() as session:
        municipality = await queries.get_municipality_by_name(session, DEMO_MUNICIPALITY)
        if municipality is None:
            municipality = await queries.create_municipality(
                session, DEMO_MUNICIPALITY, now=clock.now(), country="DK", timezone=tz.key,
                default_language=language,
            )
        team = await queries.get_team_by_name(session, municipality.id, DEMO_TEAM)
        if team is None:
            first = first_webinar(clock.now(), tz).replace(tzinfo=None)
            team = await queries.create_team(
                session,
                municipality,
                DEMO_TEAM,
                first,
                now=clock.now(),
                language=language,
                webinar_url=DEMO_WEBINAR_URL,
                # The demo team leaves out holiday weeks, as a coordinator would.
                session_starts=plan(first, tz, municipality.country, HolidayChoice.SKIP).starts,
            )
        if enrol and await queries.get_person_by_telegram_id(session, DEMO_USER_ID) is None:
            person = Person(
                telegram_user_id=DEMO_USER_ID, chat_id=DEMO_USER_ID, display_name=DEMO_FIRST_NAME,
                created_at=clock.now(),
            )
            session.add(person)
            await session.flush()
            session.add(Consent(person_id=person.id, version=DEMO_CONSENT_VERSION, given=True,
                                at=clock.now()))
            membership = await queries.add_membership(session, person, team, now=clock.now())
            await open_module(session, membership.id, 1, clock.now())
        invite = await create_invite(session, team=team, role=InviteRole.PARTICIPANT,
                                     now=clock.now(), created_by="demo")
        return invite.code


@dataclass
class ChatPrinter:
    """Prints what the bot shows in one chat and remembers the buttons on screen."""

    sandbox: Sandbox
    chat_id: int
    out: TextIO
    _seen: dict[int, int] = field(default_factory=dict)  # message_id -> version
    buttons: list[tuple[int, str]] = field(default_factory=list)  # (message_id, label)

    def print_new(self) -> None:
        for message in self.sandbox.api.messages_to(self.chat_id):
            version = message.version
            if self._seen.get(message.message_id) == version:
                continue
            edited = message.message_id in self._seen
            self._seen[message.message_id] = version
            if message.deleted:
                continue
            self._print(message, edited=edited)

    def _print(self, message: SimMessage, *, edited: bool) -> None:
        prefix = "bot (edited) › " if edited else "bot › "
        body = message.text or message.caption or ""
        if message.media_kind == "photo":
            body = f"[picture] {body}".strip()
        elif message.media_kind == "document" and message.file is not None:
            body = f"[file {message.file.file_name or ''}] {body}".strip()
        lines = body.splitlines() or [""]
        self.out.write(prefix + lines[0] + "\n")
        for line in lines[1:]:
            self.out.write("      " + line + "\n")
        labels = message.button_texts()
        if labels:
            self.buttons = [(message.message_id, label) for label in labels]
            numbered = "  ".join(f"[{i}] {label}" for i, label in enumerate(labels, start=1))
            self.out.write("      " + numbered + "\n")
        self.out.flush()


async def drive(
    sandbox: Sandbox, lines: AsyncIterator[str], out: TextIO, *, echo: bool, invite_code: str
) -> None:
    printer = ChatPrinter(sandbox, DEMO_USER_ID, out)
    async for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if echo:
            out.write(f"you › {line}\n")
        if line == QUIT:
            break
        if line.isdigit() and printer.buttons:
            index = int(line) - 1
            if not 0 <= index < len(printer.buttons):
                out.write(f"      (there is no button {line})\n")
                continue
            message_id, label = printer.buttons[index]
            await sandbox.press(DEMO_USER_ID, label, message_id=message_id)
        elif line == INVITE:
            # What tapping the team's invite link does in Telegram.
            await sandbox.send_text(DEMO_USER_ID, f"/start {invite_code}")
        else:
            await sandbox.send_text(DEMO_USER_ID, line)
        printer.print_new()


async def _lines_from(stream: TextIO, prompt: Callable[[], None] | None) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    while True:
        if prompt is not None:
            prompt()
        line = await loop.run_in_executor(None, stream.readline)
        if not line:
            return
        yield line


def demo_database(settings: Settings, *, fresh: bool) -> Path:
    """The demo's own SQLite file (never the production database), emptied unless kept."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db_path = settings.data_dir / "demo.sqlite3"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return db_path


async def run_demo(
    settings: Settings,
    db_path: Path,
    *,
    script: Path | None = None,
    newcomer: bool = False,
    stdin: TextIO = sys.stdin,
    out: TextIO = sys.stdout,
) -> None:
    clock = SystemClock()
    async with open_sandbox(
        settings=settings, database_url=f"sqlite:///{db_path.as_posix()}", clock=clock
    ) as sandbox:
        invite_code = await seed_demo(
            sandbox.services.sessions, clock, language=settings.default_locale,
            enrol=not newcomer,
        )
        sandbox.api.add_user(DEMO_USER_ID, DEMO_FIRST_NAME, language_code=settings.default_locale)
        interactive = script is None and stdin.isatty()
        if interactive:
            out.write(
                "mestring demo — you are a participant. A number presses a button, "
                f"anything else is sent as text, {QUIT} ends.\n"
                + (f"Type {INVITE} to open the team's invite link, as a new participant would.\n"
                   if newcomer else
                   f"Try /course, /progress, /settings or /help; {INVITE} opens the invite link.\n")
            )
            out.flush()

        def prompt() -> None:
            out.write("you › ")
            out.flush()

        if script is not None:
            with script.open(encoding="utf-8") as fh:
                await drive(sandbox, _lines_from(fh, None), out, echo=True,
                            invite_code=invite_code)
        else:
            await drive(
                sandbox,
                _lines_from(stdin, prompt if interactive else None),
                out,
                echo=not interactive,
                invite_code=invite_code,
            )
