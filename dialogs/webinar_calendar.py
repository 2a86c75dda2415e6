"""The team's six webinars as an iCalendar file for the participant's phone calendar.

Made with ``icalendar``. Each webinar is one event with a UID that never changes (the webinar's
id and creation time), so a file sent after a move or a cancellation updates the event the
phone already has: its SEQUENCE is the webinar's ``calendar_sequence``, one more with every
change, and a cancelled webinar is ``STATUS:CANCELLED``. Times are written in the team's zone
with its VTIMEZONE, so 19:00 stays 19:00 across a daylight-saving change, and every event has
the join link and a reminder.

The file goes with the course plan when a person joins, on ``/calendar``, and with every
notice of a moved or cancelled webinar (``dialogs.outbox_render``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.course import default_course, participant_membership
from dialogs.screen import Screen, Upload
from locales.i18n import Tr
from storage.models import SessionStatus, Team, WebinarSession

FILENAME = "webinars.ics"
# The phone's own reminder; the bot's reminders come a day and an hour before.
ALARM_BEFORE = timedelta(minutes=15)
PRODID = "-//mestring//webinars//EN"


@dataclass(frozen=True)
class CalendarWebinar:
    """What one event is made of."""

    id: int
    module_no: int
    starts_at: datetime
    duration_minutes: int
    cancelled: bool
    sequence: int
    created_at: datetime
    updated_at: datetime
    join_url: str | None


def event_uid(webinar_id: int, created_at: datetime) -> str:
    """Stable for the webinar's whole life, and unlike another deployment's webinar of the
    same id (its creation moment differs)."""
    return f"webinar-{webinar_id}-{int(created_at.timestamp())}@mestring"


def calendar_webinars(team: Team, webinars: Sequence[WebinarSession]) -> list[CalendarWebinar]:
    return [
        CalendarWebinar(
            w.id, w.module_no, w.starts_at, w.duration_minutes,
            w.status == SessionStatus.CANCELLED, w.calendar_sequence, w.created_at,
            w.updated_at, w.join_url or team.webinar_url,
        )
        for w in sorted(webinars, key=lambda w: w.module_no)
    ]


def webinar_calendar(tr: Tr, webinars: Sequence[CalendarWebinar], tz: ZoneInfo) -> bytes:
    """The .ics file, in the reader's language."""
    # Imported on the first calendar file, not at start (several megabytes per worker).
    from icalendar import Alarm, Calendar, Event

    course = default_course()
    calendar = Calendar.new(prodid=PRODID, method="PUBLISH", name=tr._("Coping course"))
    for webinar in webinars:
        start = webinar.starts_at.astimezone(tz)
        title = tr._(course.module(webinar.module_no).title)
        description = [tr._("Module {number}: {title}", number=webinar.module_no, title=title)]
        if webinar.join_url:
            description.append(tr._("Join the webinar: {link}", link=webinar.join_url))
        event = Event.new(
            uid=event_uid(webinar.id, webinar.created_at),
            sequence=webinar.sequence,
            stamp=webinar.updated_at,
            start=start,
            end=start + timedelta(minutes=webinar.duration_minutes),
            summary=tr._("Webinar {number}: {title}", number=webinar.module_no, title=title),
            description="\n".join(description),
            location=webinar.join_url,
            url=webinar.join_url,
            status="CANCELLED" if webinar.cancelled else "CONFIRMED",
        )
        if not webinar.cancelled:
            alarm = Alarm.new(description=tr._(
                "The webinar starts in {minutes} minutes.",
                minutes=int(ALARM_BEFORE.total_seconds() // 60)))
            alarm.add("action", "DISPLAY")
            alarm.add("trigger", -ALARM_BEFORE)
            event.add_component(alarm)
        calendar.add_component(event)
    if webinars:
        # The zone's rules for the years the course spans, not the default 1970–2038.
        years = [w.starts_at.astimezone(tz).year for w in webinars]
        calendar.add_missing_timezones(first_date=date(min(years) - 1, 1, 1),
                                       last_date=date(max(years) + 2, 1, 1))
    return calendar.to_ical()


async def team_calendar(session: AsyncSession, team: Team, tr: Tr) -> bytes:
    webinars = await session.scalars(
        select(WebinarSession).where(WebinarSession.team_id == team.id))
    return webinar_calendar(tr, calendar_webinars(team, list(webinars)), ZoneInfo(team.timezone))


async def participant_calendar(session: AsyncSession, person_id: int, tr: Tr) -> bytes | None:
    """The calendar of the person's team; None when they are in no team."""
    membership = await participant_membership(session, person_id)
    if membership is None:
        return None
    team = await session.get(Team, membership.team_id)
    assert team is not None
    return await team_calendar(session, team, tr)


def attach(screen: Screen, data: bytes) -> Screen:
    """The same message with the calendar file attached (its text becomes the caption)."""
    return dataclasses.replace(screen, media=Upload(FILENAME, data))


def calendar_screen(tr: Tr, data: bytes) -> Screen:
    return attach(Screen.of(tr._(
        "Here are the webinars for your calendar. Open the file to add them to your phone."
    )), data)


def no_calendar_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "You are not in a team yet, so there are no webinars to add."
    ))
