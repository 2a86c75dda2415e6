"""What an instructor gets on their own around each webinar: a briefing before, and a prompt
to mark attendance after.

The briefing is one short message, planned ``DeliveryConfig.briefing_before`` (2 hours) before
the webinar and written when it goes out: who has prepared this week's module, how many
answered last week's check-in and the team's average coping, and who cannot get messages.

What it shows is what ``/team`` already shows the instructor, as the privacy notice tells
participants ("Your instructor sees your name and progress, not your answers"): names with
progress (prepared, reachable), and about the check-in only counts and an average that is
withheld below five answers (``team_summary.MIN_RESPONDENTS``), so no one's answer can be
singled out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.callbacks import callback
from dialogs.instructor import ATTENDANCE, FOR_ROSTER, TEAM, team_roster
from dialogs.screen import Button, Screen, escape
from dialogs.team_summary import MIN_RESPONDENTS, team_summary
from locales.i18n import Tr
from storage.models import Attendance, Membership, WebinarSession


@dataclass(frozen=True)
class Briefing:
    team_id: int
    team_name: str
    module_no: int
    starts_at: datetime
    tz: ZoneInfo
    participants: int
    prepared: tuple[str, ...]  # names of those who prepared this week's module
    checkin_week: int | None  # the check-in after the previous webinar (None for module 1)
    checkins_sent: int
    checkins_done: int
    coping_answers: int
    coping_mean: float | None  # None below MIN_RESPONDENTS answers
    unreachable: tuple[str, ...]  # names of those who blocked the bot


def _name(tr: Tr, name: str | None) -> str:
    return escape(name) if name else tr._("no name yet")


async def briefing(
    session: AsyncSession, instructor: Membership, webinar: WebinarSession, now: datetime,
    tr: Tr,
) -> Briefing:
    """The facts of one briefing, for an instructor of the webinar's team."""
    roster = await team_roster(session, person_id=instructor.person_id,
                               team_id=webinar.team_id, now=now)
    previous = webinar.module_no - 1
    week = (await team_summary(session, webinar.team_id)).weeks[previous - 1] \
        if previous >= 1 else None
    return Briefing(
        team_id=webinar.team_id,
        team_name=roster.team.team_name,
        module_no=webinar.module_no,
        starts_at=webinar.starts_at,
        tz=roster.tz,
        participants=len(roster.rows),
        prepared=tuple(_name(tr, row.name) for row in roster.rows
                       if webinar.module_no in row.prepared),
        checkin_week=previous if week is not None else None,
        checkins_sent=week.checkins_sent if week is not None else 0,
        checkins_done=week.checkins_done if week is not None else 0,
        coping_answers=week.coping_answers if week is not None else 0,
        coping_mean=week.coping_mean if week is not None else None,
        unreachable=tuple(_name(tr, row.name) for row in roster.rows if row.unreachable),
    )


async def attendance_marked(session: AsyncSession, webinar_id: int) -> bool:
    """Whether the instructor marked anyone for this webinar already."""
    return await session.scalar(
        select(Attendance.id).where(Attendance.session_id == webinar_id).limit(1)) is not None


# -- screens -----------------------------------------------------------------------------------


def briefing_screen(tr: Tr, brief: Briefing) -> Screen:
    lines = [tr._("<b>Webinar {number} at {time}</b> · {team}", number=brief.module_no,
                  time=tr.time(brief.starts_at, brief.tz), team=escape(brief.team_name))]
    if not brief.participants:
        lines.append(tr._("Nobody has joined yet."))
        return Screen.of("\n".join(lines))
    prepared = tr._("Prepared module {number}: {done} of {total}", number=brief.module_no,
                    done=len(brief.prepared), total=brief.participants)
    if brief.prepared:
        prepared += " – " + ", ".join(brief.prepared)
    lines.append(prepared)
    if brief.checkin_week is not None and brief.checkins_sent:
        checkin = tr._("Check-in after webinar {week}: {done} of {sent} answered",
                       week=brief.checkin_week, done=brief.checkins_done,
                       sent=brief.checkins_sent)
        if brief.coping_mean is not None:
            checkin += " · " + tr._("average coping {mean} of 10",
                                    mean=tr.number(round(brief.coping_mean, 1)))
        elif brief.coping_answers:
            checkin += " · " + tr._("no average below {n} answers", n=MIN_RESPONDENTS)
        lines.append(checkin)
    if brief.unreachable:
        lines.append(tr._("Cannot get messages: {names}", names=", ".join(brief.unreachable)))
    else:
        lines.append(tr._("Everyone can get messages."))
    return Screen.of(
        "\n".join(lines),
        [Button(tr._("Open the roster"), callback(TEAM, FOR_ROSTER, brief.team_id))],
    )


def attendance_prompt_screen(
    tr: Tr, module_no: int, webinar_id: int, starts_at: datetime, tz: ZoneInfo
) -> Screen:
    return Screen.of(
        tr._("<b>Webinar {number} is over</b> ({when}). Who attended?", number=module_no,
             when=tr.when(starts_at, tz)),
        [Button(tr._("Mark attendance"), callback(ATTENDANCE, webinar_id))],
    )
