"""The same step taken twice at the same moment (a double tap handled by two workers, two
instructors) happens once, on both backends.

Each test holds the first transaction open until the second has reached the database — on
PostgreSQL its write waits for the first one's row lock, on SQLite its ``BEGIN IMMEDIATE``
waits for the write lock — and only then commits the first. A step that read "not done yet"
and then wrote unconditionally would do it twice here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dialogs import course, instructor
from dialogs import instructor_broadcast as broadcast
from dialogs.instructor import InstructorAdmission
from dialogs.invites import Newcomer, create_invite, redeem_invite
from dialogs.onboarding import ParticipantAdmission
from storage import queries
from storage.engine import Sessions
from storage.models import AuditLog, InviteRole, OutboxMessage

T = TypeVar("T")
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)



async def overlapping(
    engine: AsyncEngine, sessions: Sessions, waits_on: tuple[str, ...],
    work: Callable[[AsyncSession], Awaitable[T]],
) -> tuple[T, T]:
    """``work`` in two transactions; the first commits once the second has sent a statement
    containing one of ``waits_on`` (or, on SQLite, its first statement, which carries its
    ``BEGIN IMMEDIATE``: storage/sqlite_driver.py): a write of the row the first holds, or the
    write lock, so it waits."""
    reached = asyncio.Event()
    watching = False

    def seen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Once watching, the first transaction sends nothing more: this is the second's.
        if watching and (any(words in statement for words in waits_on)
                         or conn.dialect.name == "sqlite"):
            reached.set()

    async def second() -> T:
        async with sessions.begin() as session:
            return await work(session)

    event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with sessions.begin() as session:
            first = await work(session)
            watching = True
            racing = asyncio.create_task(second())
            await asyncio.wait_for(reached.wait(), 10)
        return first, await racing
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", seen)


async def _people(sessions: Sessions) -> tuple[int, int, int]:
    """A team with one participant (module 1 open) and one instructor: their person ids and
    the team id."""
    async with sessions.begin() as session:
        municipality = await queries.create_municipality(session, "Køge", now=NOW)
        team = await queries.create_team(session, municipality, "Hold 3",
                                         datetime(2027, 1, 7, 19, 0), now=NOW)
        ids = []
        for role, admission, user_id in ((InviteRole.PARTICIPANT, ParticipantAdmission(), 1),
                                         (InviteRole.INSTRUCTOR, InstructorAdmission(), 2)):
            new = await create_invite(session, team=team, role=role, now=NOW, created_by="t")
            redeemed = await redeem_invite(session, new.code, admission,
                                           Newcomer(user_id, user_id, "en"), NOW,
                                           throttle_secret=b"test")
            assert redeemed.person is not None
            ids.append(redeemed.person.id)
        return ids[0], ids[1], team.id


async def test_done_with_my_preparation_twice_at_once_marks_it_once(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    participant, _, _ = await _people(sessions)
    writes = ("INTO module_progress", "UPDATE module_progress")
    results = await overlapping(engine, sessions, writes,
                                lambda s: course.mark_prepared(s, participant, 1, NOW))
    assert sorted(results) == [course.PrepResult.ALREADY, course.PrepResult.MARKED]


async def test_one_broadcast_confirmed_twice_at_once_fans_out_once(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    _, ida, team_id = await _people(sessions)
    async with sessions.begin() as session:
        draft = await broadcast.draft_broadcast(
            session, person_id=ida, team_id=team_id, text="Hej", media_kind=None,
            media_file_id=None, now=NOW)
    # The second waits on the team's row lock (the day's limit), or on the broadcast's row.
    results = await overlapping(engine, sessions, ("FOR UPDATE", "UPDATE broadcasts"), lambda s: (
        broadcast.confirm_broadcast(s, person_id=ida, broadcast_id=draft.broadcast_id,
                                    now=NOW)))
    assert sorted(r.status for r in results) == [broadcast.ConfirmStatus.ALREADY_SENT,
                                                 broadcast.ConfirmStatus.SENDING]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "broadcast.send")) == 1
        kinds = list(await session.scalars(select(OutboxMessage.kind)))
    assert sorted(kinds) == ["broadcast", "broadcast_report"]  # Kim's copy, Ida's report


async def test_two_drafts_confirmed_at_once_take_the_last_broadcast_of_the_day_once(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    _, ida, team_id = await _people(sessions)
    drafts = []
    async with sessions.begin() as session:
        for text in ("one", "two", "three", "four"):
            drafts.append((await broadcast.draft_broadcast(
                session, person_id=ida, team_id=team_id, text=text, media_kind=None,
                media_file_id=None, now=NOW)).broadcast_id)
        for broadcast_id in drafts[:2]:
            await broadcast.confirm_broadcast(session, person_id=ida, broadcast_id=broadcast_id,
                                              now=NOW)
    racing = iter(drafts[2:])
    results = await overlapping(engine, sessions, ("FOR UPDATE",), lambda s: (
        broadcast.confirm_broadcast(s, person_id=ida, broadcast_id=next(racing), now=NOW)))
    assert sorted(r.status for r in results) == [broadcast.ConfirmStatus.DAILY_LIMIT,
                                                 broadcast.ConfirmStatus.SENDING]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "broadcast.send")) == 3


async def test_a_webinar_moved_twice_at_once_is_moved_once(
    engine: AsyncEngine, sessions: Sessions
) -> None:
    _, ida, team_id = await _people(sessions)
    async with sessions() as session:
        webinar = (await queries.team_sessions(session, team_id))[1]
    new_start = webinar.starts_at + timedelta(days=1)
    await overlapping(engine, sessions, ("FOR UPDATE",), lambda s: instructor.move_webinar(
        s, person_id=ida, webinar_id=webinar.id, new_start=new_start, now=NOW))
    async with sessions() as session:
        moves = list(await session.scalars(select(AuditLog).where(
            AuditLog.action == "webinar.move")))
        moved = (await queries.team_sessions(session, team_id))[1]
    assert len(moves) == 1
    assert (moved.starts_at, moved.moved_from) == (new_start, webinar.starts_at)
