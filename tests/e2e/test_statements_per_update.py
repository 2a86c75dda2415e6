"""How many SQL statements the hot updates cost: /course, a module button and /help.

Every update of every person pays these, so a change that adds a query to them (loading the
actor twice, a handler loading the membership again, a lazy load) shows here as a count, on
both databases. The bounds are today's counts: lower them when an update gets leaner.
(Before the actor carried the participant's team and the update read in one session: 6
statements on 2 connections for /course and a module button, 2 on 1 for /help; before the
course view read its webinars and progress in one statement: 3 on 1.)
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import event

from bot.sandbox import Sandbox
from bot.settings import Settings
from storage.clock import FrozenClock

from .helpers import one_enrolled, press_data

ANNA = 7001

# Per update: (statements, connections taken from the pool). Statements leave out SQLite's
# BEGIN and ROLLBACK, which this code sends itself and PostgreSQL's driver sends unseen.
MOST = {"course": (2, 1), "button": (2, 1), "help": (1, 1)}


_NOT_COUNTED = ("BEGIN", "ROLLBACK", "COMMIT")


@dataclass
class Work:
    statements: list[str] = field(default_factory=list)
    connections: int = 0


@contextmanager
def counting(sandbox: Sandbox) -> Iterator[Work]:
    """On SQLite what sqlite3 itself runs: an update's quick reads go to it without
    SQLAlchemy's execution (storage/quick.py), so its events would not see them."""
    work = Work()
    engine = sandbox.engine.sync_engine
    sqlite = engine.dialect.name == "sqlite"
    traced: list[sqlite3.Connection] = []

    def executed(statement: str) -> None:
        if not statement.startswith(_NOT_COUNTED):
            work.statements.append(statement)

    def executed_by_sqlalchemy(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        executed(statement)

    def checked_out(dbapi_connection: Any, *_: Any) -> None:
        work.connections += 1
        if sqlite:
            raw = dbapi_connection.driver_connection._conn
            raw.set_trace_callback(executed)
            traced.append(raw)

    if not sqlite:
        event.listen(engine, "before_cursor_execute", executed_by_sqlalchemy)
    event.listen(engine.pool, "checkout", checked_out)
    try:
        yield work
    finally:
        if not sqlite:
            event.remove(engine, "before_cursor_execute", executed_by_sqlalchemy)
        event.remove(engine.pool, "checkout", checked_out)
        for raw in traced:
            raw.set_trace_callback(None)


@pytest.fixture
async def enrolled(settings: Settings, clock: FrozenClock, db_url: str) -> AsyncIterator[Sandbox]:
    async with one_enrolled(settings, clock, db_url, ANNA) as sandbox:
        yield sandbox


async def test_course_button_and_help_stay_within_their_statements(enrolled: Sandbox) -> None:
    sandbox = enrolled
    with counting(sandbox) as course:
        await sandbox.send_text(ANNA, "/course")
    assert sandbox.api.last_message_to(ANNA).text.startswith("Kurset\n")
    with counting(sandbox) as button:
        await press_data(sandbox, ANNA, "v1:ms:1:0")
    assert sandbox.api.last_message_to(ANNA).text.startswith("Modul 1: ")
    with counting(sandbox) as help_:
        await sandbox.send_text(ANNA, "/help")
    assert "/course" in sandbox.api.last_message_to(ANNA).text

    for name, work in (("course", course), ("button", button), ("help", help_)):
        statements, connections = MOST[name]
        assert len(work.statements) == statements, (name, work.statements)
        assert work.connections <= connections, (name, work.connections)
