"""The webinars in the phone's calendar, end to end: the .ics that comes with the course plan
and on /calendar, parsed back with icalendar, and the updated file a move or cancellation
brings (same UID, higher SEQUENCE, STATUS:CANCELLED)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar, Event

from bot.local_api import SimMessage
from bot.sandbox import Sandbox
from dialogs import instructor
from dialogs.callbacks import callback
from dialogs.content.course import load_course
from locales.i18n import Catalogs
from storage import queries
from storage.clock import FrozenClock

from .helpers import join, make_team, press_data
from .test_instructor import become_instructor, time_passes

IDA, KIM = 8601, 8602
# Six Thursdays at 19:00 in Copenhagen; summer time begins on Sunday 28 March 2027.
FIRST = datetime(2027, 3, 11, 19, 0)
JOIN_URL = "https://meet.example.org/hold3"


def documents(sandbox: Sandbox, chat_id: int) -> list[SimMessage]:
    return [m for m in sandbox.api.messages_to(chat_id) if m.document_bytes is not None]


def parsed(message: SimMessage) -> list[Event]:
    assert message.file is not None
    assert message.file.file_name == "webinars.ics"
    assert message.document_bytes is not None
    calendar = Calendar.from_ical(message.document_bytes)
    assert [tz.tz_name for tz in calendar.timezones] == ["Europe/Copenhagen"]
    return sorted(calendar.events, key=lambda e: e.start)


async def test_the_plan_brings_six_events_at_local_time_across_summer_time(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    created = await make_team(sandbox, first_session=FIRST, language="en")
    await join(sandbox, KIM, created.participant_invite.code, language="en")

    (sent,) = documents(sandbox, KIM)
    assert "calendar" in (sent.caption or "")
    events = parsed(sent)
    assert len(events) == 6
    # 19:00 on the wall clock every week, in the team's zone …
    assert {(e.start.hour, e.start.minute) for e in events} == {(19, 0)}
    assert {str(e.start.tzinfo) for e in events} == {"Europe/Copenhagen"}
    assert [e.start.date().isoformat() for e in events] == [
        "2027-03-11", "2027-03-18", "2027-03-25", "2027-04-01", "2027-04-08", "2027-04-15"]
    # … which is 18:00 UTC in winter and 17:00 UTC in summer.
    assert [e.start.astimezone(UTC).hour for e in events] == [18, 18, 18, 17, 17, 17]
    assert all(e.end - e.start == timedelta(hours=1) for e in events)
    titles = [module.title for module in load_course().modules]
    assert [str(e["SUMMARY"]) for e in events] == [
        f"Webinar {n}: {title}" for n, title in enumerate(titles, start=1)]
    for event in events:
        assert str(event["LOCATION"]) == JOIN_URL
        assert JOIN_URL in str(event["DESCRIPTION"])
        assert str(event["STATUS"]) == "CONFIRMED"
        assert event.sequence == 0
        (alarm,) = event.subcomponents
        assert str(alarm["ACTION"]) == "DISPLAY"
        assert alarm["TRIGGER"].dt == -timedelta(minutes=15)
    assert len({e.uid for e in events}) == 6

    # /calendar gives the same events again.
    await sandbox.send_text(KIM, "/calendar")
    again = parsed(documents(sandbox, KIM)[-1])
    assert [(e.uid, e.start, e.sequence) for e in again] == [
        (e.uid, e.start, e.sequence) for e in events]


async def test_a_moved_or_cancelled_webinar_updates_the_same_event(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    created = await make_team(sandbox, first_session=FIRST, language="en")
    await become_instructor(sandbox, IDA, created.instructor_invite.code)
    await join(sandbox, KIM, created.participant_invite.code, language="en")
    before = parsed(documents(sandbox, KIM)[-1])
    async with sandbox.services.sessions() as session:
        webinars = await queries.team_sessions(session, created.team.id)

    # Module 3 moves a day later (to Friday 26 March, still winter time).
    await sandbox.send_text(IDA, "/sessions")
    await press_data(sandbox, IDA, callback(instructor.WEBINAR, webinars[2].id))
    await press_data(sandbox, IDA, callback(instructor.MOVE_ASK, webinars[2].id, "d"))
    await sandbox.press(IDA, "Yes, move it")
    await time_passes(sandbox, clock)
    notice = documents(sandbox, KIM)[-1]
    assert "New time" in (notice.caption or "")
    moved = parsed(notice)
    assert moved[2].uid == before[2].uid
    assert moved[2].sequence == 1 > before[2].sequence
    assert moved[2].start.replace(tzinfo=None) == datetime(2027, 3, 26, 19, 0)
    # The others are unchanged: same UID, same SEQUENCE, same time.
    for index in (0, 1, 3, 4, 5):
        assert (moved[index].uid, moved[index].sequence, moved[index].start) == (
            before[index].uid, 0, before[index].start)

    # Module 4 is cancelled: the same event, cancelled, with a higher SEQUENCE.
    await press_data(sandbox, IDA, callback(instructor.WEBINARS, created.team.id))
    await press_data(sandbox, IDA, callback(instructor.WEBINAR, webinars[3].id))
    await sandbox.press(IDA, "Cancel this webinar")
    await sandbox.press(IDA, "Yes, cancel it")
    await time_passes(sandbox, clock)
    notice = documents(sandbox, KIM)[-1]
    assert "Cancelled" in (notice.caption or "")
    cancelled = parsed(notice)
    assert cancelled[3].uid == before[3].uid
    assert cancelled[3].sequence == 1
    assert str(cancelled[3]["STATUS"]) == "CANCELLED"
    assert not cancelled[3].subcomponents  # no reminder for a webinar that will not happen
    assert cancelled[2].sequence == 1  # the earlier move is kept


@pytest.mark.parametrize("language", ["da", "nb"])
async def test_the_calendar_speaks_the_participants_language(
    sandbox: Sandbox, language: str
) -> None:
    created = await make_team(sandbox, first_session=FIRST, language=language)
    await join(sandbox, KIM, created.participant_invite.code, language=language)
    await sandbox.send_text(KIM, "/calendar")
    message = documents(sandbox, KIM)[-1]
    tr = Catalogs.load().tr(language)
    english = "Here are the webinars for your calendar. Open the file to add them to your phone."
    assert message.caption == tr._(english) != english
    first = parsed(message)[0]
    title = tr._(load_course().module(1).title)
    assert title != load_course().module(1).title
    assert str(first["SUMMARY"]).endswith(title)
