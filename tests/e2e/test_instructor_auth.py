"""Instructor commands and buttons refuse anyone who is not instructor of the object named: a
participant, or the instructor of another team, gets a kind refusal and nothing changes."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from bot.sandbox import Sandbox
from dialogs import instructor
from dialogs import instructor_broadcast as broadcast
from dialogs.callbacks import callback
from storage import queries
from storage.clock import FrozenClock
from storage.models import Broadcast, Membership, Person

from .helpers import make_team
from .test_instructor import IDA, KIM, become_instructor, last, team_with_people

OTTO = 8102  # instructor of another team

COMMANDS = ("/team", "/broadcast", "/sessions", "/attendance")


@pytest.fixture
async def world(sandbox: Sandbox) -> Sandbox:
    return sandbox


async def snapshot(sandbox: Sandbox) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table (what "nothing changed" means)."""
    async with sandbox.engine.connect() as connection:
        tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
        return {
            # Table names come from the schema itself, not from input.
            table: sorted(map(tuple, (await connection.execute(
                text(f'SELECT * FROM "{table}"'))).all()), key=repr)  # noqa: S608
            for table in tables
        }


async def test_commands_and_forged_buttons_are_refused(
    world: Sandbox, clock: FrozenClock
) -> None:
    created = await team_with_people(world)
    other = await make_team(world, name="Hold 9")
    await become_instructor(world, OTTO, other.instructor_invite.code, name="Otto")
    clock.set(created.session_starts[0])  # webinar 1 has begun: attendance can be marked
    async with world.services.sessions.begin() as session:
        webinars = await queries.team_sessions(session, created.team.id)
        kim = await session.scalar(select(Membership).join(Person).where(
            Person.telegram_user_id == KIM))
        assert kim is not None
        ida = await session.scalar(select(Membership).join(Person).where(
            Person.telegram_user_id == IDA))
        assert ida is not None
        draft = Broadcast(team_id=created.team.id, author_membership_id=ida.id, text="draft",
                          created_at=clock.now())
        session.add(draft)
        await session.flush()
        first, second = webinars[0].id, webinars[1].id
        team, member, draft_id = created.team.id, kim.id, draft.id
    later = int(webinars[1].starts_at.timestamp()) + 3600
    forged = [
        callback(instructor.TEAM, instructor.FOR_ROSTER, team),
        callback(instructor.TEAM, instructor.FOR_BROADCAST, team),
        callback(instructor.TEAM, instructor.FOR_SESSIONS, team),
        callback(instructor.TEAM, instructor.FOR_ATTENDANCE, team),
        callback(instructor.WEBINARS, team),
        callback(instructor.WEBINAR, second),
        callback(instructor.MOVE_ASK, second, "d"),
        callback(instructor.MOVE_TYPE, second),
        callback(instructor.MOVE_OK, second, later),
        callback(instructor.CANCEL_ASK, second),
        callback(instructor.CANCEL_OK, second),
        callback(instructor.ATTENDANCE, first),
        callback(instructor.MARK, first, member),
        callback(broadcast.SEND, draft_id),
        callback(broadcast.DISCARD, draft_id),
    ]
    before = await snapshot(world)

    for user_id, words in ((KIM, "for course instructors"), (OTTO, "Hold 9")):
        for command in COMMANDS:
            await world.send_text(user_id, command)
            reply = last(world, user_id).text or ""
            assert words in reply, f"{command} by {user_id}: {reply!r}"
            assert "Hold 3" not in reply
            assert "Kim" not in reply or user_id == KIM
    # "Stop waiting for a text" names no object; only instructors may press it at all.
    for user_id, buttons in ((KIM, [*forged, callback(broadcast.STOP)]), (OTTO, forged)):
        message_id = last(world, user_id).message_id
        for data in buttons:
            await world.handled(world.api.press_forged(user_id, message_id, data))
            answer = world.api.callback_answers[-1]
            assert answer.data == data
            assert answer.answer is not None
            words = answer.answer.get("text")
            assert words == "Only the team's instructor can do this.", (
                f"{data} by {user_id}: {words!r}")

    # Otto's own /broadcast left him waiting for a text; nothing else may differ.
    after = await snapshot(world)
    otto_waits = [r for r in after["dialog_states"] if r not in before["dialog_states"]]
    assert len(otto_waits) == 1
    after["dialog_states"] = before["dialog_states"]
    assert after == before


async def test_an_instructor_of_two_teams_chooses_with_buttons(world: Sandbox) -> None:
    await team_with_people(world, ())
    second = await make_team(world, name="Hold 4")
    await world.send_text(IDA, f"/start {second.instructor_invite.code}")
    await world.press(IDA, "I agree")
    await world.send_text(IDA, "/team")
    assert last(world, IDA).text == "Which team?"
    assert last(world, IDA).button_texts() == ["Hold 3 · Køge", "Hold 4 · Køge"]
    await world.press(IDA, "Hold 4 · Køge")
    assert "Hold 4" in (last(world, IDA).text or "")
    assert "Nobody has joined yet." in (last(world, IDA).text or "")
