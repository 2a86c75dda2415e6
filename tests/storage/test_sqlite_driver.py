"""SQLite statements in one trip to aiosqlite's thread (storage/sqlite_driver.py), with what
SQLAlchemy reads from a cursor unchanged."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.engine import create_engine, create_sessionmaker
from storage.retry import is_transient


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    async with engine.begin() as conn:
        await conn.execute(text(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, n INTEGER)"))
    yield engine
    await engine.dispose()


async def test_a_read_session_of_one_statement_is_two_trips(
    engine: AsyncEngine, trips: list[str]
) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        await session.execute(text("SELECT 1"))  # the pool's connection is open now
    trips.clear()
    async with sessions() as session:
        rows = (await session.execute(text("SELECT 1, 'a' UNION ALL SELECT 2, 'b'"))).all()
        assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    # BEGIN with the SELECT, then the ROLLBACK; SQLAlchemy's own adapter took 3 + 4 + 1, and
    # 1 more when the pool rolled back again.
    assert trips == ["_execute", "rollback"]
    async with sessions() as session:
        await session.connection()  # begun, but no statement: nothing to send
    assert trips == ["_execute", "rollback"]


async def test_a_read_transaction_keeps_its_snapshot(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    count = text("SELECT count(*) FROM t")
    async with sessions() as reader:
        assert (await reader.execute(count)).scalar_one() == 0
        async with sessions.begin() as writer:
            await writer.execute(text("INSERT INTO t (name) VALUES ('meanwhile')"))
        # The BEGIN went with the first read, so this read is in the same transaction.
        assert (await reader.execute(count)).scalar_one() == 0
    async with sessions() as reader:
        assert (await reader.execute(count)).scalar_one() == 1


async def test_a_write_transaction_holds_the_write_lock_from_its_first_statement(
    tmp_path: Path, engine: AsyncEngine,
) -> None:
    impatient = create_engine(f"sqlite:///{tmp_path / 'db.sqlite3'}", busy_timeout_ms=0)
    sessions, others = create_sessionmaker(engine), create_sessionmaker(impatient)
    try:
        async with sessions.begin() as writer:
            await writer.execute(text("SELECT count(*) FROM t"))  # a read, under IMMEDIATE
            with pytest.raises(OperationalError, match="locked"):
                async with others.begin() as other:
                    await other.execute(text("SELECT 1"))
        async with others.begin() as other:  # free again after the commit
            await other.execute(text("INSERT INTO t (name) VALUES ('after')"))
    finally:
        await impatient.dispose()


async def test_writes_report_rowcount_lastrowid_and_returning(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        inserted = await conn.execute(text("INSERT INTO t (name, n) VALUES ('a', 1)"))
        assert inserted.lastrowid == 1
        many = await conn.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"),
                                  [{"name": "b", "n": 2}, {"name": "c", "n": 3}])
        assert many.rowcount == 2
        updated = await conn.execute(text("UPDATE t SET n = n + 10 WHERE n >= 2"))
        assert updated.rowcount == 2
        returned = await conn.execute(text("UPDATE t SET n = 0 WHERE name = 'a' RETURNING id"))
        assert returned.scalar_one() == 1
    async with engine.connect() as conn:
        result = await conn.execute(text("SELECT name, n FROM t ORDER BY id"))
        assert list(result.keys()) == ["name", "n"]
        assert [tuple(r) for r in result] == [("a", 0), ("b", 12), ("c", 13)]


async def test_rows_can_be_taken_a_few_at_a_time_and_streamed(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name, n) VALUES (:name, :n)"),
                           [{"name": f"p{i}", "n": i} for i in range(7)])
    async with engine.connect() as conn:
        # Server-side, and the transaction's first statement: its BEGIN is sent first.
        streamed = await conn.stream(text("SELECT n FROM t ORDER BY n"))
        raw = await conn.get_raw_connection()
        assert raw.driver_connection.in_transaction
        assert [r.n async for r in streamed] == list(range(7))
        result = await conn.execute(text("SELECT n FROM t ORDER BY n"))
        assert [[r.n for r in part] for part in result.partitions(3)] == [
            [0, 1, 2], [3, 4, 5], [6]]


async def test_a_lost_insert_race_is_still_a_transient_integrity_error(
    engine: AsyncEngine,
) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (name) VALUES ('same')"))
    with pytest.raises(IntegrityError) as info:
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('same')"))
    assert is_transient(info.value)  # storage/retry.py still recognises it
    async with engine.connect() as conn:  # and the connection went back usable
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1


async def test_a_connection_given_back_inside_a_transaction_is_still_rolled_back(
    engine: AsyncEngine,
) -> None:
    def write_behind_sqlalchemys_back(sync_conn: Any) -> None:
        cursor = sync_conn.connection.dbapi_connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("INSERT INTO t (name) VALUES ('left open')")

    async with engine.connect() as conn:
        await conn.run_sync(write_behind_sqlalchemys_back)
    # The pool rolled it back (and let go of the write lock) when the connection came back.
    async with engine.begin() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        await conn.execute(text("INSERT INTO t (name) VALUES ('next')"))


async def test_a_quick_read_makes_no_trip_and_keeps_its_snapshot(
    engine: AsyncEngine, trips: list[str]
) -> None:
    sessions = create_sessionmaker(engine)
    count = text("SELECT count(*) FROM t")
    async with sessions.quick() as reader:
        assert (await reader.execute(count)).scalar_one() == 0
        raw = (await reader.connection()).sync_connection.connection.dbapi_connection
        assert raw.driver_connection.in_transaction  # its BEGIN went with the SELECT
        writes_before = len(trips)
        async with sessions.begin() as writer:
            await writer.execute(text("INSERT INTO t (name) VALUES ('meanwhile')"))
        assert len(trips) > writes_before  # the write went to the thread
        trips.clear()
        # Still the transaction of the first read: it does not see the write.
        assert (await reader.execute(count)).scalar_one() == 0
    assert not raw.driver_connection.in_transaction  # rolled back at the end
    async with sessions.quick() as reader:
        assert (await reader.execute(count)).scalar_one() == 1
    # Neither the reads, nor their BEGIN, nor their rollback went to aiosqlite's thread.
    assert trips == []


async def test_a_write_in_a_quick_session_and_what_follows_it_go_to_the_thread(
    engine: AsyncEngine, trips: list[str]
) -> None:
    """A write may wait for the write lock (the busy timeout): never on the event loop."""
    sessions = create_sessionmaker(engine)
    async with sessions.quick() as session:
        await session.execute(text("SELECT count(*) FROM t"))
        assert trips == []
        await session.execute(text("INSERT INTO t (name) VALUES ('written')"))
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 1
        await session.commit()
    assert trips == ["_execute", "_execute", "commit"]
    trips.clear()
    async with sessions.quick() as session:  # the next quick read is quick again
        assert (await session.execute(text("SELECT name FROM t"))).scalar_one() == "written"
    assert trips == []


async def test_a_failed_quick_read_leaves_the_connection_usable(engine: AsyncEngine) -> None:
    sessions = create_sessionmaker(engine)
    async with sessions.quick() as session:
        with pytest.raises(OperationalError, match="no such table"):
            await session.execute(text("SELECT * FROM missing"))
    async with sessions.quick() as session:
        assert (await session.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
    async with sessions.begin() as session:
        await session.execute(text("INSERT INTO t (name) VALUES ('after')"))
