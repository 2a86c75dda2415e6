"""SQLite through aiosqlite with one trip to aiosqlite's thread per statement.

aiosqlite runs every sqlite3 call on a thread of its own, and each call is a trip there and
back: a hand-off to the thread and a wake-up of the event loop, about 0.1 ms of CPU. SQLAlchemy's
aiosqlite adapter makes four trips for each statement (open a cursor, execute, fetch the rows,
close the cursor), three for the BEGIN that storage/engine.py sends, and two rollbacks at the
end of a session (the session's, then the pool's): a /course was sixteen trips, which cost the
bot more than its statements. Here

* a statement is one trip (:class:`OneTripCursor`), which keeps what SQLAlchemy reads afterwards:
  the description, the row count, the last row id and the rows;
* ``BEGIN`` (or ``BEGIN IMMEDIATE``) goes in the same trip as the transaction's first statement,
  just before it (:meth:`OneTripConnection.begin_with_next_statement`): no statement runs in
  between, so a read still starts deferred and a write still takes the write lock before
  anything else;
* a rollback or commit outside a transaction, which sqlite3 would ignore, makes no trip.

So a read session of one statement is two trips (the statement, the rollback).

A *quick* read transaction (``Sessions.quick()``, storage/engine.py: an update's own reads, a
person's rows by index) makes no trip at all: its SELECTs, and its rollback or commit, run on
the calling thread (the event loop's). Each trip cost more CPU than such a read (~1.2 ms of a
participant's update went on them). It stays safe to run them there because a deferred read
under WAL never waits for a lock, and the connection is never used by two at once (the
adapter's mutex, and every trip is awaited before the next). A statement that is not a SELECT
(a write in a read session, which then waits for the write lock) and everything after it in
that transaction go to the thread as before, so the loop never waits on the busy timeout.

Server-side cursors (``stream()``) stay SQLAlchemy's own, after sending a pending BEGIN. Built
on SQLAlchemy 2.1's asyncio adapter (``sqlalchemy.connectors.asyncio``) and aiosqlite's
``Connection._execute`` (its queue to the thread, which SQLAlchemy's adapter also reaches into);
tests/storage/test_sqlite_driver.py holds both to what this module expects.
"""

from __future__ import annotations

import collections
import sqlite3
from collections.abc import Sequence
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    AsyncAdapt_aiosqlite_ss_cursor,
)

# description, rows, rowcount, lastrowid
_Outcome = tuple[Any, Sequence[Any], int, int | None]


def _execute(connection: sqlite3.Connection, begin: str | None, operation: str,
             parameters: Any) -> _Outcome:
    """On aiosqlite's thread: the statement (after the transaction's BEGIN, if it is the
    first), its rows, and what the cursor knows after it."""
    cursor = connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else ()
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _executemany(connection: sqlite3.Connection, begin: str | None, operation: str,
                 parameters: Any) -> _Outcome:
    cursor = connection.cursor()
    try:
        if begin is not None:
            cursor.execute(begin)
        cursor.executemany(operation, parameters)
        return cursor.description, (), cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _reads(operation: str) -> bool:
    return operation[:6].upper() == "SELECT"


def _begin(connection: sqlite3.Connection, begin: str) -> None:
    connection.execute(begin).close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose ``execute`` is one trip to aiosqlite's thread, and whose
    ``close`` is none (the sqlite3 cursor was closed on the thread)."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")
    _adapt_connection: OneTripConnection

    def __init__(self, adapt_connection: OneTripConnection) -> None:
        # Not the parent's __init__: that opens an aiosqlite cursor, a trip of its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = {}
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # nothing open: the rows are here and the description is kept

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._run(_execute, operation, parameters)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._run(_executemany, operation, seq_of_parameters)

    async def _run(self, work: Any, operation: Any, parameters: Any) -> None:
        adapted = self._adapt_connection
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with adapted._execute_mutex:
            begin, adapted._begin = adapted._begin, None
            if adapted._on_loop and _reads(operation):
                description, rows, rowcount, lastrowid = work(
                    connection._conn, begin, operation, parameters)
            else:
                adapted._on_loop = False  # it may write: on the thread until it ends
                description, rows, rowcount, lastrowid = await connection._execute(
                    work, connection._conn, begin, operation, parameters)
        self._description, self._rowcount, self._lastrowid = description, rowcount, lastrowid
        self._rows = collections.deque(rows)

    def nextset(self) -> None:
        return None  # sqlite3 has one result set per statement

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None


class BeginningServerSideCursor(AsyncAdapt_aiosqlite_ss_cursor):
    """SQLAlchemy's server-side cursor, sending the transaction's BEGIN first if it is due."""

    __slots__ = ()
    _adapt_connection: OneTripConnection

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._adapt_connection._send_begin()
        return await super()._execute_async(operation, parameters)


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_begin", "_on_loop")
    _cursor_cls = OneTripCursor
    _ss_cursor_cls = BeginningServerSideCursor

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)
        self._begin: str | None = None
        # The transaction is a quick read's, and has sent nothing but SELECTs so far.
        self._on_loop = False

    def begin_with_next_statement(self, begin: str, *, on_loop: bool = False) -> None:
        """Start a transaction with ``begin`` ("BEGIN", "BEGIN IMMEDIATE") in the trip of
        the next statement, just before it; a transaction ended before any statement was
        never begun. ``on_loop``: a quick read transaction, whose SELECTs make no trip."""
        self._begin = begin
        self._on_loop = on_loop

    def quick_rows(self, operation: str, parameters: Sequence[Any]) -> Sequence[Any] | None:
        """The rows of a SELECT run now, on this thread, if the transaction is a quick read's
        and nothing else is using the connection (storage/quick.py); else None, and nothing
        was run."""
        if not self._on_loop or self._execute_mutex.locked():
            return None
        begin, self._begin = self._begin, None
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        return _execute(connection._conn, begin, operation, parameters)[1]

    async def _send_begin(self) -> None:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        async with self._execute_mutex:
            begin, self._begin = self._begin, None
            if begin is not None:
                await connection._execute(_begin, connection._conn, begin)

    def rollback(self) -> None:
        self._begin = None
        # A session's end rolls back, and then the pool rolls back again as the connection
        # goes back to it. sqlite3 does nothing outside a transaction; the trip is saved.
        if self._open_without_transaction():
            return
        if self._end_on_loop():
            self._connection._conn.rollback()
            return
        super().rollback()

    def commit(self) -> None:
        self._begin = None
        if self._open_without_transaction():
            return
        if self._end_on_loop():
            self._connection._conn.commit()  # a read's: nothing to write
            return
        super().commit()

    def _end_on_loop(self) -> bool:
        """The transaction ends now; True if it only read, quickly, on this thread."""
        on_loop, self._on_loop = self._on_loop, False
        return on_loop

    def _open_without_transaction(self) -> bool:
        connection: aiosqlite.Connection = self._connection  # type: ignore[assignment]
        return connection._connection is not None and not connection.in_transaction


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module the engine is given (``create_async_engine(module=...)``)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDbapi:
    return OneTripDbapi(aiosqlite, sqlite3)
