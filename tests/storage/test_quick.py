"""Plain rows for an update's own SELECTs (storage/quick.py): the same rows, types and
transaction as SQLAlchemy's execution gives, on both databases; on SQLite's quick read
session without SQLAlchemy's execution and without a trip to aiosqlite's thread."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import and_, bindparam, event, null, select, text, type_coerce, union_all, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage import queries
from storage.engine import create_engine, create_sessionmaker
from storage.models import Membership, MembershipStatus, Person, Role, Team
from storage.models.base import UTCDateTime
from storage.quick import PlainQuery
from storage.retry import is_transient

from .helpers import NOW, make_person, make_team

# Enums as bound literals and in the rows, UTC timestamps, NULLs, labels and an outer join.
PEOPLE = PlainQuery(
    select(Person.id, Person.telegram_user_id, Person.unreachable_at, Membership.role,
           Membership.joined_at, Team.name.label("team_name"))
    .outerjoin(Membership, and_(Membership.person_id == Person.id,
                                Membership.status == MembershipStatus.ACTIVE))
    .outerjoin(Team, Team.id == Membership.team_id)
    .where(Person.telegram_user_id >= bindparam("from_user"))
    .order_by(Person.telegram_user_id))
# A union whose second SELECT's columns are typed by the first's.
WHEN = PlainQuery(union_all(
    select(Person.telegram_user_id.label("user"), Person.created_at.label("at"))
    .where(Person.telegram_user_id == bindparam("user")),
    select(null(), type_coerce(null(), UTCDateTime())),
))


async def _people(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        team = await make_team(session)
        anna = await make_person(session, 7001)
        await make_person(session, 7002)
        left = await make_person(session, 7003)
        left.unreachable_at = NOW + timedelta(hours=1)
        await queries.add_membership(session, anna, team, now=NOW)
        gone = await queries.add_membership(session, left, team, Role.INSTRUCTOR, now=NOW)
        gone.status = MembershipStatus.LEFT


async def test_rows_are_what_sqlalchemy_gives(engine: AsyncEngine) -> None:
    await _people(engine)
    sessions = create_sessionmaker(engine)
    for session_of in (sessions.quick, sessions):
        async with session_of() as session:
            plain = await PEOPLE.rows(session, {"from_user": 7001})
            expected = (await session.execute(PEOPLE.statement, {"from_user": 7001})).all()
            assert [tuple(row) for row in plain] == [tuple(row) for row in expected]
            assert [(r.telegram_user_id, r.role, r.team_name) for r in plain] == [
                (7001, Role.PARTICIPANT, "Hold 1"), (7002, None, None), (7003, None, None)]
            assert plain[0].joined_at == NOW
            assert plain[0].joined_at.tzinfo is not None
            assert plain[2].unreachable_at == NOW + timedelta(hours=1)
            when = await WHEN.rows(session, {"user": 7002})
            assert [tuple(r) for r in when] == [(7002, NOW), (None, None)]
            assert [tuple(r) for r in when] == [tuple(r) for r in (
                await session.execute(WHEN.statement, {"user": 7002})).all()]


async def test_reads_in_the_sessions_transaction(engine: AsyncEngine) -> None:
    """With the session's other reads: one snapshot, and its own writes seen."""
    await _people(engine)
    sessions = create_sessionmaker(engine)
    async with sessions.quick() as reader:
        before = await PEOPLE.rows(reader, {"from_user": 7001})
        async with sessions.begin() as writer:
            await make_person(writer, 7004)
        if engine.dialect.name == "sqlite":  # PostgreSQL reads committed rows at each statement
            assert await PEOPLE.rows(reader, {"from_user": 7001}) == before
    async with sessions.quick() as session:
        assert [r.telegram_user_id for r in await PEOPLE.rows(session, {"from_user": 7004})] \
            == [7004]
        await session.execute(update(Person).where(Person.telegram_user_id == 7004)
                              .values(unreachable_at=NOW))
        (row,) = await PEOPLE.rows(session, {"from_user": 7004})
        assert row.unreachable_at == NOW  # after a write in the session: its own write


@pytest.fixture
async def sqlite_people(_sqlite_template: Path, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    path = tmp_path / "mestring.db"
    shutil.copy2(_sqlite_template, path)
    engine = create_engine(f"sqlite:///{path}")
    await _people(engine)
    yield engine
    await engine.dispose()


async def test_on_sqlite_a_quick_read_makes_no_trip(
    sqlite_people: AsyncEngine, trips: list[str]
) -> None:
    engine = sqlite_people
    sessions = create_sessionmaker(engine)
    async with sessions() as session:  # an ordinary read: to aiosqlite's thread
        trips.clear()
        await PEOPLE.rows(session, {"from_user": 7001})
    assert trips == ["_execute", "rollback"]
    trips.clear()
    async with sessions.quick() as session:
        await PEOPLE.rows(session, {"from_user": 7001})
        await WHEN.rows(session, {"user": 7001})
        raw = (await session.connection()).sync_connection.connection.dbapi_connection
        assert raw.driver_connection.in_transaction  # its BEGIN went with the first SELECT
    assert not raw.driver_connection.in_transaction
    assert trips == []
    async with sessions.quick() as session:  # a write, and what follows it: to the thread
        await session.execute(update(Person).values(locale="da"))
        trips.clear()
        await PEOPLE.rows(session, {"from_user": 7001})
        assert trips == ["_execute"]


async def test_on_sqlite_a_failed_quick_read_is_sqlalchemys_error_and_ends_cleanly(
    sqlite_people: AsyncEngine, trips: list[str]
) -> None:
    engine = sqlite_people
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        await session.execute(text("ALTER TABLE persons RENAME TO persons_gone"))
    with pytest.raises(OperationalError, match="no such table") as failed:
        async with sessions.quick() as session:
            await PEOPLE.rows(session, {"from_user": 7001})
    assert is_transient(failed.value) is False
    async with sessions.begin() as session:
        await session.execute(text("ALTER TABLE persons_gone RENAME TO persons"))
    trips.clear()
    async with sessions.quick() as session:
        assert len(await PEOPLE.rows(session, {"from_user": 7001})) == 3
    assert trips == []


async def test_on_sqlite_statements_someone_listens_to_go_through_sqlalchemy(
    sqlite_people: AsyncEngine,
) -> None:
    """A test's fault injection (tests/e2e/test_failures.py) reaches these reads too."""
    engine = sqlite_people
    seen: list[str] = []

    def executed(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", executed)
    try:
        async with create_sessionmaker(engine).quick() as session:
            assert len(await PEOPLE.rows(session, {"from_user": 7001})) == 3
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", executed)
    assert len(seen) == 1
    assert "FROM persons" in seen[0]
