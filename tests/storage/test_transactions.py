"""The transaction model (docs/storage.md) under concurrency, on both backends."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError, OperationalError

from storage.engine import Sessions, create_engine, create_sessionmaker
from storage.ids import hash_invite_code, new_invite_code
from storage.models import Invite, InviteRole
from storage.retry import is_transient, retrying
from tests.storage.helpers import make_team

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)



async def _invites(sessions: Sessions, count: int) -> list[int]:
    async with sessions.begin() as session:
        team = await make_team(session)
        invites = [Invite(team_id=team.id, municipality_id=team.municipality_id,
                          role=InviteRole.PARTICIPANT, created_at=NOW, created_by="test",
                          code_hash=hash_invite_code(new_invite_code()), uses=0)
                   for _ in range(count)]
        session.add_all(invites)
        await session.flush()
        return [invite.id for invite in invites]


async def _uses(sessions: Sessions, invite_id: int) -> int:
    async with sessions() as session:
        return await session.scalar(select(Invite.uses).where(Invite.id == invite_id)) or 0


async def test_twenty_read_then_write_transactions_at_once_all_commit(
    sessions: Sessions,
) -> None:
    # Each reads the counter, then writes it back one higher: on SQLite a deferred BEGIN
    # fails such an upgrade at once ("database is locked"); on PostgreSQL an unlocked read
    # would lose updates. A write transaction with the row locked does neither.
    (invite_id,) = await _invites(sessions, 1)

    async def count_one() -> None:
        async with sessions.begin() as session:
            invite = await session.scalar(
                select(Invite).where(Invite.id == invite_id).with_for_update())
            assert invite is not None
            invite.uses += 1

    await asyncio.gather(*(count_one() for _ in range(20)))
    assert await _uses(sessions, invite_id) == 20


async def test_a_read_session_and_a_write_transaction_do_not_wait_for_each_other(
    sessions: Sessions,
) -> None:
    (invite_id,) = await _invites(sessions, 1)
    async with sessions() as reader:
        assert await reader.scalar(select(Invite.uses).where(Invite.id == invite_id)) == 0
        # The reader's transaction is still open: a writer commits regardless…
        async with sessions.begin() as writer:
            await writer.execute(update(Invite).where(Invite.id == invite_id).values(uses=1))
            # …and while the writer holds its lock, a new reader reads the last commit.
            async with sessions() as other:
                assert await other.scalar(
                    select(Invite.uses).where(Invite.id == invite_id)) == 0
    assert await _uses(sessions, invite_id) == 1


async def test_a_deadlock_is_retried_and_both_transactions_commit(
    sessions: Sessions, db_url: str
) -> None:
    # Two transactions lock two rows in opposite order. PostgreSQL lets one of them fail
    # with a deadlock and the retry runs it again; SQLite's write lock taken at BEGIN makes
    # the second wait for the first, so the deadlock cannot happen at all.
    first, second = await _invites(sessions, 2)
    postgres = db_url.startswith("postgresql")
    holding = {first: asyncio.Event(), second: asyncio.Event()}
    attempts: list[int] = []

    def bump(one: int, other: int):  # type: ignore[no-untyped-def]
        async def work() -> None:
            attempts.append(one)
            async with sessions.begin() as session:
                if postgres:
                    await session.execute(text("SET LOCAL deadlock_timeout = '50ms'"))
                await session.execute(
                    update(Invite).where(Invite.id == one).values(uses=Invite.uses + 1))
                holding[one].set()
                if postgres:
                    await holding[other].wait()  # each holds one row and wants the other
                await session.execute(
                    update(Invite).where(Invite.id == other).values(uses=Invite.uses + 1))
        return work

    await asyncio.gather(retrying(bump(first, second)), retrying(bump(second, first)))
    assert (await _uses(sessions, first), await _uses(sessions, second)) == (2, 2)
    assert len(attempts) == (3 if postgres else 2)


async def test_sqlite_busy_past_the_timeout_is_transient_and_retried(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    engine = create_engine(f"sqlite:///{path}", busy_timeout_ms=0)
    sessions = create_sessionmaker(engine)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        async with sessions.begin() as session:
            await session.execute(text("CREATE TABLE counter (n INTEGER)"))
            await session.execute(text("INSERT INTO counter VALUES (0)"))
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        async def write() -> None:
            async with sessions.begin() as session:
                await session.execute(text("UPDATE counter SET n = n + 1"))

        with pytest.raises(OperationalError) as busy:
            await write()
        assert is_transient(busy.value)

        async def lock_released(_: float) -> None:
            holder.execute("COMMIT")

        await retrying(write, sleep=lock_released)
        async with sessions() as session:
            assert await session.scalar(text("SELECT n FROM counter")) == 1
    finally:
        holder.close()
        await engine.dispose()


async def test_a_bug_is_not_retried(sessions: Sessions) -> None:
    calls = []

    async def broken() -> None:
        calls.append(1)
        async with sessions.begin() as session:
            await session.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(DBAPIError, match="no_such_table") as raised:
        await retrying(broken)
    assert not is_transient(raised.value)
    assert calls == [1]
