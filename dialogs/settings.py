"""A person's own settings: language, a reminder pause, quiet hours, the name others see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.callbacks import TEXT, Action, callback
from dialogs.language import LANGUAGE_NAMES
from dialogs.screen import Button, Screen, escape
from locales.i18n import Tr
from storage.models import Person

ACTION = Action("st", forms={
    "lang": (), "quiet": (), "q": (TEXT, TEXT), "pause": (), "resume": (), "name": (),
})  # st:q:<start hhmm>:<end hhmm> chooses quiet hours
PAUSE_LENGTH = timedelta(days=7)
DEFAULT_QUIET = (time(21, 0), time(8, 0))
QUIET_CHOICES: tuple[tuple[time, time], ...] = (
    (time(21, 0), time(8, 0)),
    (time(22, 0), time(7, 0)),
    (time(20, 0), time(9, 0)),
    (time(23, 0), time(10, 0)),
)


@dataclass(frozen=True)
class SettingsView:
    locale: str
    display_name: str | None
    paused_until: datetime | None
    quiet: tuple[time, time]
    timezone: ZoneInfo


async def settings_view(
    session: AsyncSession, person_id: int, locale: str, timezone: ZoneInfo, now: datetime
) -> SettingsView:
    person = await session.get(Person, person_id)
    assert person is not None
    paused = person.paused_until if person.paused_until and person.paused_until > now else None
    quiet = (person.quiet_start, person.quiet_end)
    return SettingsView(
        locale=locale,
        display_name=person.display_name,
        paused_until=paused,
        quiet=quiet if quiet[0] is not None and quiet[1] is not None else DEFAULT_QUIET,  # type: ignore[arg-type]
        timezone=timezone,
    )


async def pause_reminders(session: AsyncSession, person_id: int, now: datetime) -> datetime:
    person = await session.get(Person, person_id)
    assert person is not None
    person.paused_until = now + PAUSE_LENGTH
    return person.paused_until


async def resume_reminders(session: AsyncSession, person_id: int) -> None:
    person = await session.get(Person, person_id)
    assert person is not None
    person.paused_until = None


async def set_quiet_hours(session: AsyncSession, person_id: int, start: time, end: time) -> None:
    if (start, end) not in QUIET_CHOICES:
        raise ValueError("not one of the offered quiet hours")
    person = await session.get(Person, person_id)
    assert person is not None
    person.quiet_start, person.quiet_end = start, end


def parse_quiet(start: str, end: str) -> tuple[time, time]:
    """``2100``, ``0800`` → times; ValueError for anything else."""
    parsed = (time(int(start[:2]), int(start[2:])), time(int(end[:2]), int(end[2:])))
    if len(start) != 4 or len(end) != 4 or parsed not in QUIET_CHOICES:
        raise ValueError("not one of the offered quiet hours")
    return parsed


def _hhmm(value: time) -> str:
    return value.strftime("%H%M")


def _span(tr: Tr, quiet: tuple[time, time]) -> str:
    return tr._("{start} to {end}", start=tr.time(quiet[0]), end=tr.time(quiet[1]))


def settings_screen(tr: Tr, view: SettingsView) -> Screen:
    if view.paused_until is not None:
        reminders = tr._("paused until {date}", date=tr.day(view.paused_until, view.timezone))
        pause_button = Button(tr._("Resume reminders"), callback(ACTION, "resume"))
    else:
        reminders = tr._("on")
        pause_button = Button(tr._("Pause reminders for a week"), callback(ACTION, "pause"))
    lines = [
        tr._("<b>Settings</b>"),
        tr._("Language: {language}", language=LANGUAGE_NAMES[view.locale]),
        tr._("Reminders: {state}", state=reminders),
        tr._("Quiet hours: {span}", span=_span(tr, view.quiet)),
        tr._("Your name: {name}", name=escape(view.display_name or "–")),
    ]
    return Screen.of(
        "\n".join(lines),
        [Button(tr._("Language"), callback(ACTION, "lang")),
         Button(tr._("Quiet hours"), callback(ACTION, "quiet"))],
        [pause_button],
        [Button(tr._("Change name"), callback(ACTION, "name"))],
    )


def quiet_hours_screen(tr: Tr, current: tuple[time, time]) -> Screen:
    buttons = [
        [Button(("✓ " if choice == current else "") + _span(tr, choice),
                callback(ACTION, "q", _hhmm(choice[0]), _hhmm(choice[1])))]
        for choice in QUIET_CHOICES
    ]
    return Screen.of(
        tr._("When should I stay quiet? Reminders wait until the quiet hours are over."),
        *buttons,
    )
