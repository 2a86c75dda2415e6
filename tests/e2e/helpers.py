"""Shared steps for end-to-end tests: teams, invites, and a participant joining by buttons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.coordinator import CreatedTeam, create_team_with_invites
from dialogs.coordinator_holidays import HolidayChoice
from dialogs.invites import create_invite
from storage.clock import Clock
from storage.models import InviteRole, Team

# The language Telegram reports is preselected, so its button carries a tick.
LANGUAGE_BUTTON = {"da": "✓ Dansk", "nb": "✓ Norsk bokmål", "en": "✓ English"}


@dataclass(frozen=True)
class Words:
    """The visible labels a participant presses, per language."""

    next: str
    agree: str
    refuse: str
    adult: str
    minor: str
    use_name: str
    other_name: str
    prepared: str


WORDS = {
    "da": Words("Fortsæt ›", "Ja, det er i orden", "Nej tak", "Ja, jeg er 18 år eller ældre",
                "Nej", "Brug “{name}”", "Skriv et andet navn",
                "Jeg er færdig med forberedelsen"),
    "nb": Words("Fortsett ›", "Ja, det er greit", "Nei takk", "Ja, jeg er 18 år eller eldre",
                "Nei", "Bruk “{name}”", "Skriv et annet navn", "Jeg er ferdig med forberedelsen"),
    "en": Words("Continue ›", "Yes, I agree", "No, thank you", "Yes, I am 18 or older", "No",
                "Use “{name}”", "Write another name", "Done with my preparation"),
}


async def make_team(
    sandbox: Sandbox,
    *,
    name: str = "Hold 3",
    municipality: str = "Køge",
    first_session: datetime = datetime(2027, 1, 7, 19, 0),
    language: str = "da",
    country: str = "DK",
    holidays: HolidayChoice = HolidayChoice.KEEP,  # most tests want the dates as given
) -> CreatedTeam:
    async with sandbox.services.sessions.begin() as session:
        return await create_team_with_invites(
            session, municipality_name=municipality, team_name=name,
            first_session_local=first_session, webinar_url="https://meet.example.org/hold3",
            language=language, country=country, timezone=None,
            now=sandbox.services.clock.now(), actor="test", holidays=holidays,
        )


async def participant_code(sandbox: Sandbox, team_id: int, *, valid_for: timedelta) -> str:
    async with sandbox.services.sessions.begin() as session:
        team = await session.get(Team, team_id)
        assert team is not None
        new = await create_invite(session, team=team, role=InviteRole.PARTICIPANT,
                                  now=sandbox.services.clock.now(), created_by="test",
                                  valid_for=valid_for)
        return new.code


async def join(
    sandbox: Sandbox, user_id: int, code: str, *, language: str, first_name: str = "Kim"
) -> None:
    """Open the invite link and press through onboarding to the end, keeping the name."""
    words = WORDS[language]
    sandbox.api.add_user(user_id, first_name, language_code=language)
    await sandbox.send_text(user_id, f"/start {code}")
    await sandbox.press(user_id, LANGUAGE_BUTTON[language])
    await sandbox.press(user_id, words.next)
    await sandbox.press(user_id, words.agree)
    await sandbox.press(user_id, words.adult)
    await sandbox.press(user_id, words.use_name.format(name=first_name))


def texts(sandbox: Sandbox, chat_id: int) -> list[str]:
    return [m.text or m.caption or "" for m in sandbox.api.messages_to(chat_id)]


async def press_data(sandbox: Sandbox, user_id: int, data: str) -> None:
    """Press the newest button that carries ``data`` (for buttons whose label changes with the
    language or the date)."""
    message = next(m for m in reversed(sandbox.api.messages_to(user_id))
                   if data in [b.get("callback_data") for b in m.buttons()])
    if sandbox.pace is not None:
        sandbox.pace.pause()
    await sandbox.handled(sandbox.api.press_button(user_id, message.message_id, data))


@asynccontextmanager
async def one_enrolled(
    settings: Settings, clock: Clock, database_url: str, user_id: int
) -> AsyncIterator[Sandbox]:
    """A bot with one team, and ``user_id`` in it as a Danish participant."""
    async with open_sandbox(settings=settings, database_url=database_url, clock=clock) as sandbox:
        created = await make_team(sandbox)
        await join(sandbox, user_id, created.participant_invite.code, language="da")
        yield sandbox
