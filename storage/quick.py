"""SELECTs that run for every update, as plain rows, on SQLite without SQLAlchemy's execution.

An update's own reads (the actor, their course) are two small SELECTs by index on the quick
read session (``Sessions.quick()``, storage/sqlite_driver.py). SQLAlchemy's execution of each
(compiled-cache lookup, execution context, cursor result, row objects, a greenlet) cost more
CPU than SQLite's work. A :class:`PlainQuery` compiles its statement once per dialect and, while
the session's transaction is a quick SQLite read, runs the SQL straight on the sqlite3
connection: the parameters and the columns still go through their SQLAlchemy types' own bind
and result processors, so the rows hold what ``connection.execute`` would have given.
Anywhere else (PostgreSQL, a transaction that wrote, an engine whose statements someone
listens to) it is ``connection.execute`` as before. Errors are SQLAlchemy's either way.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.selectable import CompoundSelect, Select

Processor = Callable[[Any], Any] | None


class _Plan:
    """The statement compiled for one dialect, with its types' processors."""

    def __init__(self, statement: Select[Any] | CompoundSelect[Any], dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError(f"{dialect.name} does not take positional parameters")
        self.sql = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup)
        self.defaults: dict[str, Any] = dict(compiled.params)
        self.binds: tuple[Processor, ...] = tuple(
            compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in self.names)
        columns = statement.selected_columns
        self.results: tuple[Processor, ...] = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        self.row = namedtuple("row", columns.keys())  # type: ignore[misc]

    def parameters(self, given: Mapping[str, Any]) -> tuple[Any, ...]:
        values = self.defaults | dict(given)
        return tuple(value if bind is None else bind(value)
                     for value, bind in zip((values[n] for n in self.names), self.binds,
                                            strict=True))

    def rows(self, raw: Sequence[Sequence[Any]]) -> list[Any]:
        results, make = self.results, self.row._make
        return [make(value if result is None else result(value)
                     for value, result in zip(row, results, strict=True)) for row in raw]


class PlainQuery:
    """A SELECT whose rows are read by column name; built once, at import or first use."""

    def __init__(self, statement: Select[Any] | CompoundSelect[Any]) -> None:
        self.statement = statement
        self._plans: dict[str, _Plan] = {}

    async def rows(self, reads: AsyncSession | AsyncConnection,
                   parameters: Mapping[str, Any]) -> list[Any]:
        """The rows, in the session's or connection's transaction (begun here if it was
        not)."""
        connection = await reads.connection() if isinstance(reads, AsyncSession) else reads
        if not connection.in_transaction():
            await connection.begin()
        dbapi = connection.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
        quick = getattr(dbapi, "quick_rows", None)
        # Whoever listens to the statements (a test's fault injection, tracing) sees them.
        if quick is not None and not connection.sync_connection.dispatch.before_cursor_execute:
            plan = self._plan(connection.dialect)
            arguments = plan.parameters(parameters)
            try:
                raw = quick(plan.sql, arguments)
            except connection.dialect.loaded_dbapi.Error as exc:
                # As SQLAlchemy raises it (storage/retry.py tells the transient ones apart).
                raise DBAPIError.instance(plan.sql, arguments, exc,
                                          connection.dialect.loaded_dbapi.Error) from exc
            if raw is not None:
                return plan.rows(raw)
        return list((await connection.execute(self.statement, dict(parameters))).all())

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = _Plan(self.statement, dialect)
        return plan
