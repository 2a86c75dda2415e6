"""Creating a team in chat, for coordinators: municipality, name, first webinar, link, language.

The draft lives in the coordinator's dialog state (database), so it survives restarts; the
team itself is made by :func:`dialogs.coordinator.create_team_with_invites`, as on the command
line, with its six weekly webinars and invite links. Right after the first webinar's date,
webinars that would fall on holidays are shown, with the choice to skip those weeks or keep
the dates (``dialogs.coordinator_holidays``); nothing is saved before the last step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs import state
from dialogs.callbacks import INT, Action, callback, one_of
from dialogs.coordinator import CoordinatorError, CreatedTeam, create_team_with_invites
from dialogs.coordinator_holidays import HolidayChoice, Plan, holiday_names, plan
from dialogs.language import LANGUAGE_NAMES
from dialogs.local_time import parse_local_time
from dialogs.screen import Button, Screen, escape
from locales.i18n import SUPPORTED_LOCALES, Tr
from storage.models import Municipality

# nt:m:<municipality id> · nt:skip (no webinar link yet) · nt:l:<language>
# · nt:h:<skip|keep> (webinars on holidays)
ACTION = Action("nt", forms={"m": (INT,), "skip": (), "l": (one_of(*SUPPORTED_LOCALES),),
                             "h": (one_of(HolidayChoice.SKIP, HolidayChoice.KEEP),)})
TYPED_FORMAT = "%Y-%m-%d %H:%M"
STATE = "new_team"
MAX_NAME = 100


@dataclass(frozen=True)
class Draft:
    step: str
    data: dict[str, Any]


async def begin(session: AsyncSession, person_id: int, municipality_id: int, now: datetime) -> None:
    await state.wait_for(session, person_id, STATE, now, step="name",
                         municipality_id=municipality_id)


async def open_draft(
    sessions: async_sessionmaker[AsyncSession], person_id: int, municipality_ids: frozenset[int],
    now: datetime,
) -> list[Municipality]:
    """/newteam: with one municipality the draft begins at once and nothing is returned; with
    several, the ones to choose from (the draft begins with the choice)."""
    async with sessions.begin() as session:
        municipalities = list(await session.scalars(
            select(Municipality).where(Municipality.id.in_(municipality_ids))
            .order_by(Municipality.name)
        ))
        if len(municipalities) > 1:
            return municipalities
        await begin(session, person_id, municipalities[0].id, now)
        return []


async def draft(session: AsyncSession, person_id: int) -> Draft | None:
    waiting = await state.waiting_for(session, person_id)
    if waiting is None or waiting.state != STATE:
        return None
    data = dict(waiting.data)
    return Draft(str(data.pop("step")), data)


async def answer(
    session: AsyncSession, person_id: int, allowed: frozenset[int], text: str | None,
    now: datetime,
) -> tuple[Draft | None, str | None]:
    """Take the typed answer of the current step; returns the new draft or a problem key."""
    current = await draft(session, person_id)
    if current is None or int(current.data["municipality_id"]) not in allowed:
        return None, "gone"
    data = dict(current.data)
    value = " ".join((text or "").split())
    match current.step:
        case "name":
            if not 0 < len(value) <= MAX_NAME:
                return current, "name"
            data["name"], step = value, "first"
        case "first":
            municipality = await session.get(Municipality, int(data["municipality_id"]))
            assert municipality is not None
            start = parse_local_time(value, ZoneInfo(municipality.timezone))
            if start is None or start <= now:
                return current, "time"
            data["first"] = value
            step = "holidays" if _holidays(municipality, value).flagged else "url"
        case "url":
            if not value.startswith(("https://", "http://")):
                return current, "url"
            data["url"], step = value, "language"
        case _:
            return current, "buttons"
    await state.wait_for(session, person_id, STATE, now, step=step, **data)
    return Draft(step, data), None


def _holidays(municipality: Municipality, first: str,
              choice: HolidayChoice = HolidayChoice.KEEP) -> Plan:
    return plan(datetime.strptime(first, TYPED_FORMAT), ZoneInfo(municipality.timezone),
                municipality.country, choice)


@dataclass(frozen=True)
class HolidayQuestion:
    flagged: Plan  # the dates as typed, holidays flagged
    skipping: Plan  # the dates with those weeks left out


async def holiday_question(session: AsyncSession, current: Draft) -> HolidayQuestion:
    municipality = await session.get(Municipality, int(current.data["municipality_id"]))
    assert municipality is not None
    first = str(current.data["first"])
    return HolidayQuestion(_holidays(municipality, first),
                           _holidays(municipality, first, HolidayChoice.SKIP))


async def choose_holidays(
    session: AsyncSession, person_id: int, choice: str, now: datetime
) -> Draft | None:
    current = await draft(session, person_id)
    if current is None or current.step != "holidays":
        return None
    data = {**current.data, "holidays": choice}
    await state.wait_for(session, person_id, STATE, now, step="url", **data)
    return Draft("url", data)


async def next_screen(session: AsyncSession, tr: Tr, current: Draft) -> Screen:
    """The question of the draft's step (the holiday question shows the dates it is about)."""
    if current.step == "holidays":
        return holidays_screen(tr, await holiday_question(session, current))
    return step_screen(tr, current.step)


async def skip_url(session: AsyncSession, person_id: int, now: datetime) -> Draft | None:
    current = await draft(session, person_id)
    if current is None or current.step != "url":
        return None
    await state.wait_for(session, person_id, STATE, now, step="language", url=None,
                         **current.data)
    return Draft("language", {**current.data, "url": None})


async def finish(
    session: AsyncSession, person_id: int, allowed: frozenset[int], language: str,
    now: datetime,
) -> CreatedTeam | None:
    current = await draft(session, person_id)
    if (current is None or current.step != "language" or language not in SUPPORTED_LOCALES
            or int(current.data["municipality_id"]) not in allowed):
        return None
    municipality = await session.get(Municipality, int(current.data["municipality_id"]))
    assert municipality is not None
    first = datetime.strptime(current.data["first"], TYPED_FORMAT)
    created = await create_team_with_invites(
        session, municipality_name=municipality.name, team_name=current.data["name"],
        first_session_local=first, webinar_url=current.data.get("url"), language=language,
        country=None, timezone=None, now=now, actor=f"coordinator:{person_id}",
        holidays=HolidayChoice(current.data.get("holidays", HolidayChoice.ASK)),
    )
    await state.stop_waiting(session, person_id)
    return created


# -- screens ---------------------------------------------------------------------------------


def choose_municipality_screen(tr: Tr, municipalities: list[Municipality]) -> Screen:
    return Screen.of(
        tr._("In which municipality should the new team be?"),
        *[[Button(m.name, callback(ACTION, "m", m.id))] for m in municipalities],
    )


def step_screen(tr: Tr, step: str) -> Screen:
    match step:
        case "name":
            return Screen.of(tr._("<b>New team</b>\nWrite the team's name, for example “Hold 3”."))
        case "first":
            return Screen.of(tr._(
                "When is the first webinar? Write the date and local time like this: "
                "2027-01-07 19:00. The next five follow weekly at the same time."
            ))
        case "url":
            return Screen.of(tr._("Paste the link participants use to join the webinars."),
                             [Button(tr._("No link yet"), callback(ACTION, "skip"))])
        case _:
            return Screen.of(
                tr._("Which language does the team speak?"),
                [Button(LANGUAGE_NAMES[code], callback(ACTION, "l", code))
                 for code in SUPPORTED_LOCALES],
            )


def holidays_screen(tr: Tr, question: HolidayQuestion) -> Screen:
    lines = [tr._("<b>Some webinars fall on holidays</b>")]
    for flag in question.flagged.flagged:
        lines.append(tr._("{number}. {when} – {holidays}", number=flag.module_no,
                          when=tr.when(flag.starts_at, ZoneInfo(flag.zone)),
                          holidays=escape(", ".join(holiday_names(tr, flag)))))
    lines.append("")
    lines.append(tr._("Skip those weeks? Then the course runs over {weeks} weeks. "
                      "Or keep the dates.", weeks=question.skipping.weeks))
    return Screen.of(
        "\n".join(lines),
        [Button(tr._("Skip those weeks"), callback(ACTION, "h", HolidayChoice.SKIP))],
        [Button(tr._("Keep the dates"), callback(ACTION, "h", HolidayChoice.KEEP))],
    )


def problem_screen(tr: Tr, problem: str) -> Screen:
    match problem:
        case "name":
            text = tr._("Please write a name of at most {max} characters.", max=MAX_NAME)
        case "time":
            text = tr._("I could not use that time. Write a future date and time like "
                        "2027-01-07 19:00.")
        case "url":
            text = tr._("Please paste a link that starts with https://, or press “No link yet”.")
        case _:
            text = tr._("Please use the buttons.")
    return Screen.of(text)


def created_screen(tr: Tr, created: CreatedTeam, participants_link: str,
                   instructor_link: str) -> Screen:
    tz = ZoneInfo(created.team.timezone)
    on_holiday = {f.module_no for f in created.holidays.flagged} if created.holidays else set()
    dates = "\n".join(f"{n}. {tr.when(start, tz)}" + (" ⚠️" if n in on_holiday else "")
                      for n, start in enumerate(created.session_starts, start=1))
    return Screen.of("\n\n".join((
        tr._("<b>{team} is created</b>", team=escape(created.team.name)),
        dates,
        tr._("For participants: {link}", link=participants_link),
        tr._("For the instructor (single use): {link}", link=instructor_link),
    )))


def failed_screen(tr: Tr, error: CoordinatorError) -> Screen:
    return Screen.of(tr._("The team was not created: {reason}", reason=escape(str(error))))
