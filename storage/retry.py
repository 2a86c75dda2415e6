"""Trying again after ordinary concurrency: the one retry policy for database work.

Some errors are not bugs but the price of many people acting at once: PostgreSQL picks a
deadlock victim or refuses a serialization, SQLite stays busy past its timeout, and two
transactions that both checked "not there yet" race to insert the same unique row. The loser's
transaction is rolled back whole, so doing the same work again from the start — re-reading
what the winner committed — is correct and usually succeeds. Everything else is re-raised at
once.

Callers are the places where a unit of work starts: each update's handlers (bot/app.py, and
only while nothing has been shown to the person yet), the dispatcher's transactions and the
background jobs.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 4
_FIRST_BACKOFF_SECONDS = 0.02

# PostgreSQL SQLSTATEs: serialization_failure, deadlock_detected, unique_violation,
# lock_not_available.
_PG_TRANSIENT = frozenset({"40001", "40P01", "23505", "55P03"})
# SQLite extended result codes by name (Python's sqlite3 exposes them on the exception).
_SQLITE_TRANSIENT = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CONSTRAINT_UNIQUE",
                     "SQLITE_CONSTRAINT_PRIMARYKEY")
_SQLITE_WORDS = ("database is locked", "database table is locked", "unique constraint failed")


def is_transient(error: BaseException) -> bool:
    """True for an error that concurrency explains and a fresh attempt may not meet."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    sqlstate = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if sqlstate is not None:
        return str(sqlstate) in _PG_TRANSIENT
    name = getattr(original, "sqlite_errorname", "") or ""
    if name.startswith(_SQLITE_TRANSIENT):
        return True
    return any(words in str(original).lower() for words in _SQLITE_WORDS)


def backoff(attempt: int) -> float:
    """Seconds before attempt ``attempt + 1``: short, growing, jittered so that the losers of
    one race do not meet again in the next."""
    return random.uniform(0.5, 1.0) * _FIRST_BACKOFF_SECONDS * 2 ** (attempt - 1)


def _always() -> bool:
    return True


async def retrying(
    work: Callable[[], Awaitable[T]],
    *,
    attempts: int = MAX_ATTEMPTS,
    may_retry: Callable[[], bool] = _always,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    what: str = "work",
) -> T:
    """Run ``work`` (which opens its own transactions) and run it again, up to ``attempts``
    times in all, while it fails transiently and ``may_retry()`` says a repeat is safe."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as error:
            if attempt >= attempts or not is_transient(error) or not may_retry():
                raise
            log.info("transient database error in %s, attempt %d of %d: %s", what, attempt,
                     attempts, type(error.orig).__name__)
            await sleep(backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
