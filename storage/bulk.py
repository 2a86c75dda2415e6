"""Statements over many rows: ids cut into pieces, inserts and upserts as one executemany.

A list of parameter sets goes to the driver's executemany (one prepared statement, sent once),
not a multi-VALUES statement SQLAlchemy compiles per chunk: at 39,000 outbox rows that is
seconds apart (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

T = TypeVar("T")

# Well under SQLite's 32,766 bound parameters and PostgreSQL's 65,535, and small enough that
# an IN list stays an index lookup.
CHUNK = 500


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """``items`` in lists of at most ``size``, in order."""
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def _dialect_insert(session: AsyncSession, target: Table | type[DeclarativeBase]) -> Any:
    """An INSERT into ``target`` in the session's own dialect, the one with ON CONFLICT.

    The dialect's module is imported here, not at the top: a worker on SQLite never loads
    PostgreSQL's (a tenth of a second and a megabyte and a half at start)."""
    bind = session.get_bind() if session.bind is None else session.bind
    if bind.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(target)


def multi_rowcount(session: AsyncSession) -> bool:
    """Whether the driver reports the rows an executemany changed (sqlite3 does, asyncpg
    does not)."""
    return session.bind is None or session.bind.dialect.supports_sane_multi_rowcount


async def insert_ignoring(
    session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]],
    index_elements: Sequence[str],
) -> int:
    """Insert rows, skipping those whose ``index_elements`` exist (also rows another worker
    inserts at the same moment). Returns how many were new."""
    if not rows:
        return 0
    table = model.__table__
    stmt = _dialect_insert(session, table).on_conflict_do_nothing(
        index_elements=list(index_elements))
    if multi_rowcount(session):
        result = await session.execute(stmt, list(rows))
        return max(0, int(result.rowcount or 0))  # type: ignore[attr-defined]
    # asyncpg's executemany counts nothing: RETURNING (SQLAlchemy's batched insertmanyvalues)
    # does, in a few round trips.
    key = table.primary_key.columns.values()[0]
    result = await session.execute(stmt.returning(key), list(rows))
    return len(result.all())


async def upsert(
    session: AsyncSession, model: type[DeclarativeBase], rows: Sequence[dict[str, Any]], *,
    index_elements: Sequence[str], update: Sequence[str],
) -> None:
    """Insert rows, or update the ``update`` columns of those that exist."""
    if not rows:
        return
    stmt = _dialect_insert(session, model.__table__)
    stmt = stmt.on_conflict_do_update(index_elements=list(index_elements),
                                      set_={c: stmt.excluded[c] for c in update})
    await session.execute(stmt, list(rows))
