"""Engine and session factories. No globals: callers create an engine and pass it around."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

# Backend name -> the async driver we use.
_ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
# Drivers people write in URLs copied from other tools; the async one takes their place.
_REPLACEABLE_DRIVERS = {
    "sqlite": {"", "pysqlite", "aiosqlite"},
    "postgresql": {"", "psycopg2", "psycopg", "psycopg2cffi", "pg8000", "asyncpg"},
}
# How long a SQLite write transaction waits for the write lock before it reports "busy" (and
# the caller's bounded retry, storage/retry.py, tries once more). Write transactions are short.
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Each pooled connection's own page cache. SQLite's default is 2 MB a connection, filled by
# the safety net's scans and held for the process's life. It buys little here: the operating
# system caches the file anyway, and under WAL a connection drops its whole cache whenever
# another one has committed, which a bot that writes on most updates does all the time. 512
# KiB (128 pages) still holds the b-tree roots and inner pages that every lookup walks.
SQLITE_CACHE_KIB = 512
# Execution option that marks a connection as a write transaction's (see `Sessions`).
WRITE = "mestring_write"
# Execution option that marks a connection as a quick read's (see `Sessions.quick`).
QUICK = "mestring_quick"


def database_url(url: str) -> URL:
    """Parse a database URL and pick the async driver when none is given.

    `sqlite:///path` -> `sqlite+aiosqlite:///path`; `postgresql://…` and the Heroku-style
    `postgres://…` -> `postgresql+asyncpg://…`. A synchronous driver written in the URL
    (`postgresql+psycopg2://`, `sqlite+pysqlite://`) is replaced by the async one. Raises
    ValueError with one line for a malformed URL, another backend or an unknown driver.
    """
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"malformed database URL {_redact(url)!r}: {exc}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _ASYNC_DRIVERS:
        raise ValueError(
            f"unsupported database backend {backend!r} in {_redact(url)!r}:"
            " use sqlite:///path or postgresql://user@host/db"
        )
    if driver not in _REPLACEABLE_DRIVERS[backend]:
        raise ValueError(
            f"unsupported database driver {driver!r} in {_redact(url)!r}:"
            f" leave it out ({backend}://…) and {_ASYNC_DRIVERS[backend]} is used"
        )
    if backend == "postgresql" and not parsed.database:
        raise ValueError(f"database URL {_redact(url)!r} names no database")
    return parsed.set(drivername=f"{backend}+{_ASYNC_DRIVERS[backend]}")


def _redact(url: str) -> str:
    # Never echo a password into logs or exception messages.
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparseable>" if "@" in url else url


def sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory / URI-style databases."""
    if url.get_backend_name() != "sqlite":
        return None
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:") or url.query.get("uri"):
        return None
    return Path(db)


def create_engine(
    url: str, *, sqlite_foreign_keys: bool = True, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS
) -> AsyncEngine:
    """An AsyncEngine for `url` (see `database_url`), ready for the app.

    SQLite: WAL (readers do not block the writer), foreign keys enforced (cascading erasure
    depends on them), write transactions that take the write lock up front and wait for it
    (see `Sessions`), and the file is created 0600 first because it holds health data.
    Statements go to aiosqlite's thread in one trip each (storage/sqlite_driver.py).
    `sqlite_foreign_keys=False` is for migrations only, where table rebuilds must not fire
    ON DELETE CASCADE.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            _create_private_file(path)
        from storage import sqlite_driver  # not imported where PostgreSQL is used

        # Quick reads use the sqlite3 connection on the event loop's thread as well as on
        # aiosqlite's, never at once (storage/sqlite_driver.py).
        engine = _create_async_engine(parsed, module=sqlite_driver.dbapi(),
                                      connect_args={"check_same_thread": False})
        _configure_sqlite(engine, foreign_keys=sqlite_foreign_keys,
                          busy_timeout_ms=busy_timeout_ms)
        return engine
    return _create_async_engine(parsed, pool_pre_ping=True)


def _create_private_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # an existing database keeps the mode its operator gave it
    os.close(fd)
    # SQLite creates -wal/-shm with the main file's mode, so they inherit 0600 too.


def _configure_sqlite(engine: AsyncEngine, *, foreign_keys: bool, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below): the sqlite3 module's implicit transaction
        # handling breaks SAVEPOINT and transactional DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            # Deleted content is overwritten with zeros, not left in free pages: health data.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # Safe with WAL (a power cut may lose the last commit, never corrupt the file).
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")  # negative: KiB
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred BEGIN that reads and then writes must upgrade its lock, and SQLite
        # refuses that at once ("database is locked", no busy wait) when another connection
        # wrote meanwhile. A write transaction therefore takes the lock at BEGIN, where the
        # busy timeout applies; a read stays deferred and, under WAL, never waits.
        options = conn.get_execution_options()
        immediate = options.get(WRITE, False)
        # Sent with the transaction's first statement, in the same trip to aiosqlite's
        # thread (storage/sqlite_driver.py): the lock is still taken before any statement.
        conn.connection.dbapi_connection.begin_with_next_statement(
            "BEGIN IMMEDIATE" if immediate else "BEGIN",
            on_loop=not immediate and options.get(QUICK, False))


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    """The engine a sessionmaker from :func:`create_sessionmaker` is bound to."""
    engine = sessions.kw["bind"]
    assert isinstance(engine, AsyncEngine)
    return engine


class Sessions(async_sessionmaker[AsyncSession]):
    """The two kinds of session, and the one rule: a transaction that may write starts with
    ``sessions.begin()``.

    * ``async with sessions() as session:`` reads. On SQLite a deferred transaction under
      WAL: it neither waits for a writer nor makes one wait.
    * ``async with sessions.begin() as session:`` is a write transaction, committed at the
      end. On SQLite it begins with ``BEGIN IMMEDIATE``: it takes the write lock first and
      waits for it (busy timeout), so it never fails half-way from ordinary concurrency. On
      PostgreSQL it is a plain READ COMMITTED transaction; an "at most once" step in it is one
      conditional statement or holds a row lock (docs/storage.md).

    Both keep loaded attributes after commit (no lazy reload in async code).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine, expire_on_commit=False)
        self._writer = engine.execution_options(**{WRITE: True})
        self._quick = engine.execution_options(**{QUICK: True})

    def quick(self) -> AsyncSession:
        """A read session for a few small reads by index (an update's: the actor, their
        course): on SQLite its SELECTs run on the event loop's thread instead of a trip to
        aiosqlite's (storage/sqlite_driver.py), so never a scan that may take long. On
        PostgreSQL a read session like any other."""
        return self(bind=self._quick)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        async with self(bind=self._writer) as session, session.begin():
            yield session


async def optimize(session: AsyncSession) -> None:
    """Let SQLite refresh the query planner's statistics where they went stale (cheap when
    nothing did; recommended periodically for long-lived connections). PostgreSQL's autovacuum
    does this by itself. Call it in a write transaction: it may run ANALYZE."""
    if session.bind is not None and session.bind.dialect.name == "sqlite":
        await session.execute(text("PRAGMA optimize"))


def create_sessionmaker(engine: AsyncEngine) -> Sessions:
    """Read sessions and write transactions on `engine` (see `Sessions`)."""
    return Sessions(engine)
