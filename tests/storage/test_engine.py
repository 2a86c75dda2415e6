"""URL handling and engine setup."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.engine import (
    SQLITE_BUSY_TIMEOUT_MS,
    SQLITE_CACHE_KIB,
    create_engine,
    create_sessionmaker,
    database_url,
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("sqlite:///data/mestring.db", "sqlite+aiosqlite:///data/mestring.db"),
        ("sqlite:////var/lib/mestring.db", "sqlite+aiosqlite:////var/lib/mestring.db"),
        ("sqlite://", "sqlite+aiosqlite://"),
        ("postgresql://bot:pw@db:5432/mestring", "postgresql+asyncpg://bot:pw@db:5432/mestring"),
        ("postgres://bot@db/mestring", "postgresql+asyncpg://bot@db/mestring"),
        ("postgresql+asyncpg://bot@db/mestring", "postgresql+asyncpg://bot@db/mestring"),
        # Synchronous drivers from URLs copied out of other tools: ours takes their place.
        ("postgresql+psycopg://bot@db/mestring", "postgresql+asyncpg://bot@db/mestring"),
        ("postgresql+psycopg2://bot@db/mestring", "postgresql+asyncpg://bot@db/mestring"),
        ("postgres+psycopg2://bot@db/mestring", "postgresql+asyncpg://bot@db/mestring"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
    ],
)
def test_database_url_picks_async_driver(given: str, expected: str) -> None:
    assert database_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("", "malformed"),
        ("not a url", "malformed"),
        ("sqlite:/relative.db", "malformed"),
        ("postgresql://bot@db:notaport/mestring", "malformed"),
        ("mysql://bot@db/mestring", "unsupported database backend 'mysql'"),
        ("http://example.org/", "unsupported"),
        ("postgresql://bot@db", "names no database"),
        ("postgresql+mysterydriver://bot@db/m", "unsupported database driver 'mysterydriver'"),
    ],
)
def test_database_url_rejects_bad_input(given: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        database_url(given)


def test_database_url_error_hides_password() -> None:
    with pytest.raises(ValueError, match="unsupported") as info:
        database_url("mysql://bot:s3cret@db/mestring")
    assert "s3cret" not in str(info.value)


async def test_sqlite_file_is_private_with_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "mestring.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        # Created (0600) before any connection exists.
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        async with engine.connect() as conn:
            assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == \
                SQLITE_BUSY_TIMEOUT_MS
            # Negative: a size in KiB, not a number of pages (storage/engine.py says why).
            assert (await conn.execute(text("PRAGMA cache_size"))).scalar() == -SQLITE_CACHE_KIB
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.commit()
        for sibling in path.parent.iterdir():  # -wal / -shm inherit the mode
            assert stat.S_IMODE(sibling.stat().st_mode) == 0o600, sibling.name
    finally:
        await engine.dispose()


async def test_sqlite_existing_file_mode_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "mestring.db"
    path.touch(mode=0o640)
    path.chmod(0o640)
    engine = create_engine(f"sqlite:///{path}")
    await engine.dispose()
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


async def test_sqlite_savepoints_work(tmp_path: Path) -> None:
    # Needs SQLAlchemy to own BEGIN (see storage.engine); the sqlite3 default breaks this.
    engine = create_engine(f"sqlite:///{tmp_path / 'sp.db'}")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
        async with engine.connect() as conn:
            async with conn.begin():
                await conn.execute(text("INSERT INTO t VALUES (1)"))
                nested = await conn.begin_nested()
                await conn.execute(text("INSERT INTO t VALUES (2)"))
                await nested.rollback()
            assert (await conn.execute(text("SELECT x FROM t"))).scalars().all() == [1]
    finally:
        await engine.dispose()


async def test_sessionmaker_keeps_attributes_after_commit(db_url: str) -> None:
    from storage.models import Person

    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as session:
            async with session.begin():
                person = Person(telegram_user_id=1, chat_id=1,
                                created_at=datetime(2025, 1, 6, 9, 0, tzinfo=UTC))
                session.add(person)
            # No lazy reload (which would fail outside a greenlet) after commit.
            assert person.telegram_user_id == 1
    finally:
        await engine.dispose()
