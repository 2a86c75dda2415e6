"""Staff limits, end to end: a few broadcasts per team per day, the confirm screen that says
whether a message waits for the morning, and webinar changes that wait for 08:00 at night."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.sandbox import Sandbox
from dialogs import instructor
from dialogs.callbacks import callback
from dialogs.delivery.kinds import Kind
from storage import queries
from storage.clock import FrozenClock
from storage.models import Broadcast, BroadcastStatus, OutboxMessage, OutboxStatus

from .helpers import join, make_team, press_data
from .test_instructor import (
    IDA,
    KIM,
    become_instructor,
    last,
    shown,
    team_with_people,
    time_passes,
)


async def write_broadcast(sandbox: Sandbox, text: str) -> str:
    """/broadcast and a text; returns what the bot answered last."""
    await sandbox.send_text(IDA, "/broadcast")
    answer = last(sandbox, IDA).text or ""
    if "Write your message" in answer:
        await sandbox.send_text(IDA, text)
        answer = last(sandbox, IDA).text or ""
    return answer


async def test_three_broadcasts_a_day_then_a_clear_no_until_tomorrow(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    await team_with_people(sandbox)
    for number in range(3):
        assert "Send it to 1 participant" in await write_broadcast(sandbox, f"Note {number}")
        await sandbox.press(IDA, "Send")
        assert "Sending to 1 participant" in (last(sandbox, IDA).text or "")

    refused = await write_broadcast(sandbox, "Note 4")
    assert refused == ("Hold 3 has had 3 messages from you today. That is the daily limit, so "
                       "the team is not flooded. You can write again tomorrow.")
    # Not waiting for a text: the next message is not taken as a broadcast.
    await sandbox.send_text(IDA, "Note 4")
    async with sandbox.services.sessions() as session:
        assert len(list(await session.scalars(select(Broadcast)))) == 3

    # Midnight on the team's clock (Copenhagen, UTC+1 in January) opens a new day.
    clock.set(datetime(2027, 1, 4, 23, 1, tzinfo=UTC))
    assert "Send it to 1 participant" in await write_broadcast(sandbox, "New day")


async def test_the_limit_holds_for_drafts_written_before_it_was_reached(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    await team_with_people(sandbox)
    for number in range(2):
        await write_broadcast(sandbox, f"Note {number}")
        await sandbox.press(IDA, "Send")
    # Two drafts open at once (e.g. on a phone and a laptop): only one may go.
    await write_broadcast(sandbox, "Draft A")
    first = last(sandbox, IDA)
    await write_broadcast(sandbox, "Draft B")
    await sandbox.press(IDA, "Send")
    assert "Sending to 1 participant" in (last(sandbox, IDA).text or "")
    await sandbox.press(IDA, "Send", message_id=first.message_id)
    assert (first.text or "").startswith(  # the question is edited in place
        "Not sent: the team has had 3 messages today")
    async with sandbox.services.sessions() as session:
        statuses = sorted(str(b.status) for b in await session.scalars(select(Broadcast)))
    assert statuses == [BroadcastStatus.CONFIRMED] * 3 + [BroadcastStatus.DRAFT]


async def test_the_confirm_screen_says_whether_the_message_waits_for_the_morning(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    await team_with_people(sandbox)
    # 10:00 in Copenhagen.
    assert "I send it right away." in await write_broadcast(sandbox, "Morning note")
    await sandbox.press(IDA, "Cancel")
    # 22:30 in Copenhagen: it waits for the team's morning, and the row is due then.
    clock.set(datetime(2027, 1, 4, 21, 30, tzinfo=UTC))
    question = await write_broadcast(sandbox, "Evening note")
    assert "It is night for the team now, so I wait and send it at 08:00." in question
    assert "I send it right away." not in question
    await sandbox.press(IDA, "Send")
    await time_passes(sandbox, clock)
    assert "Evening note" not in "\n".join(shown(sandbox, KIM))
    clock.set(datetime(2027, 1, 5, 7, 0, tzinfo=UTC))  # 08:00 local
    await time_passes(sandbox, clock)
    assert "Evening note" in (last(sandbox, KIM).text or "")


async def test_twelve_night_moves_are_one_notice_at_eight(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    created = await team_with_people(sandbox)
    await time_passes(sandbox, clock)
    async with sandbox.services.sessions() as session:
        first = (await queries.team_sessions(session, created.team.id))[0]
    clock.set(datetime(2027, 1, 5, 23, 30, tzinfo=UTC))  # 00:30 local
    await sandbox.send_text(IDA, "/sessions")
    for _ in range(11):
        await press_data(sandbox, IDA, callback(instructor.WEBINAR, first.id))
        await sandbox.press(IDA, "+1 hour")
        await sandbox.press(IDA, "Yes, move it")
        await press_data(sandbox, IDA, callback(instructor.WEBINARS, created.team.id))
    await press_data(sandbox, IDA, callback(instructor.WEBINAR, first.id))
    await sandbox.press(IDA, "+1 hour")
    await sandbox.press(IDA, "Yes, move it")
    assert "The team is told at 08:00, after the night." in (last(sandbox, IDA).text or "")

    await time_passes(sandbox, clock)  # 00:35: nothing during the night
    assert not [t for t in shown(sandbox, KIM) if "New time" in t]
    clock.set(datetime(2027, 1, 6, 7, 0, tzinfo=UTC))  # 08:00 local
    await time_passes(sandbox, clock)
    notices = [t for t in shown(sandbox, KIM) if "New time" in t]
    assert len(notices) == 1
    # Thursday 19:00 + 12 hours: Friday 07:00.
    assert "moved to Friday, 8 January 2027 at 07:00" in notices[0]
    async with sandbox.services.sessions() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == Kind.WEBINAR_MOVED)))
    assert sorted(r.status for r in rows) == [OutboxStatus.CANCELLED] * 11 + [OutboxStatus.SENT]


async def test_a_night_change_to_a_webinar_before_eight_is_told_at_once(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    created = await make_team(sandbox, first_session=datetime(2027, 1, 6, 7, 30),
                              language="en")
    await become_instructor(sandbox, IDA, created.instructor_invite.code)
    await join(sandbox, KIM, created.participant_invite.code, language="en")
    await time_passes(sandbox, clock)
    clock.set(datetime(2027, 1, 5, 23, 30, tzinfo=UTC))  # 00:30, the webinar is at 07:30
    await sandbox.send_text(IDA, "/sessions")
    async with sandbox.services.sessions() as session:
        first = (await queries.team_sessions(session, created.team.id))[0]
    await press_data(sandbox, IDA, callback(instructor.WEBINAR, first.id))
    await sandbox.press(IDA, "Cancel this webinar")
    await sandbox.press(IDA, "Yes, cancel it")
    assert last(sandbox, IDA).text == ("The webinar for module 1 is cancelled. "
                                       "The team is told.")
    await time_passes(sandbox, clock)
    assert "Cancelled" in (last(sandbox, KIM).caption or "")
    assert timedelta(0) < first.starts_at - clock.now() < timedelta(hours=8)
