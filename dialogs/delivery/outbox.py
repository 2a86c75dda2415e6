"""Outbox queries: adding planned rows, claiming due ones, recording what happened.

Callers own the transaction (these helpers never commit). Every status change after a claim
is guarded by the claim (``claimed_by``), so a worker whose lease ran out cannot overwrite the
outcome of the worker that took the row over.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import CTE, Integer, Update, and_, bindparam, func, or_, select, union_all, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from storage import bulk
from storage.models import OutboxMessage, OutboxStatus, Person

# Telegram's error description is all we keep; cap it so nothing else can ride along.
MAX_ERROR_CHARS = 200
# How the reason of a row cancelled because its person could not be reached begins: it waits
# again when the person is back (dialogs.delivery.events.person_returned).
UNREACHABLE = "unreachable"

Outbox = OutboxMessage


@dataclass(frozen=True)
class NewRow:
    """A row to add; adding a row whose ``dedup_key`` exists is a no-op."""

    person_id: int | None
    chat_id: int
    kind: str
    dedup_key: str
    due_at: datetime
    expires_at: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    urgent: bool = False
    broadcast_id: int | None = None

    def values(self) -> dict[str, Any]:
        return {
            "person_id": self.person_id, "chat_id": self.chat_id, "kind": self.kind,
            "dedup_key": self.dedup_key, "due_at": self.due_at, "expires_at": self.expires_at,
            "payload": self.payload, "urgent": self.urgent, "broadcast_id": self.broadcast_id,
            "status": OutboxStatus.PENDING, "attempts": 0,
        }


def clip_error(text: str) -> str:
    return text.strip()[:MAX_ERROR_CHARS]


async def add_rows(session: AsyncSession, rows: Sequence[NewRow], now: datetime) -> int:
    """Insert rows, skipping dedup keys that exist (also those another worker adds right now).
    Returns how many were new."""
    return await bulk.insert_ignoring(
        session, Outbox, [r.values() | {"created_at": now} for r in rows], ["dedup_key"])


@dataclass(frozen=True)
class Move:
    """A pending row's new timing (the planner moves rows whose plan changed)."""

    row_id: int
    due_at: datetime
    expires_at: datetime | None
    payload: dict[str, Any]


async def move_pending(session: AsyncSession, moves: Sequence[Move]) -> int:
    """Give pending rows their new timing, in one executemany; a row claimed or sent in the
    meantime keeps its own. Returns how many moved (as many as asked where the driver does
    not count an executemany's rows)."""
    if not moves:
        return 0
    table = Outbox.__table__
    result = await session.execute(
        update(table)
        .where(table.c.id == bindparam("row_id"), table.c.status == OutboxStatus.PENDING)
        .values(due_at=bindparam("new_due_at"), expires_at=bindparam("new_expires_at"),
                payload=bindparam("new_payload")),
        [{"row_id": m.row_id, "new_due_at": m.due_at, "new_expires_at": m.expires_at,
          "new_payload": m.payload} for m in moves],
    )
    if not bulk.multi_rowcount(session):
        return len(moves)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _claimable(now: ColumnElement[datetime]) -> ColumnElement[bool]:
    return or_(
        and_(Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= now),
        # A claim whose lease ran out: the worker crashed or hung mid-send.
        and_(Outbox.status == OutboxStatus.CLAIMED, Outbox.claimed_until < now),
    )


@dataclass(frozen=True, slots=True)
class Claimed:
    """A claimed row as the dispatcher and the renderer read it: plain values, not an ORM
    entity. A fan-out's batches are read on the event loop that also sends them; building,
    tracking and committing 50 entities a batch cost more of it than the rows' sends do."""

    id: int
    person_id: int | None
    chat_id: int
    kind: str
    payload: dict[str, Any]
    due_at: datetime
    expires_at: datetime | None
    urgent: bool
    attempts: int


def _sqlite_candidates(now: ColumnElement[datetime], limit: ColumnElement[int]) -> CTE:
    """The first ``limit`` claimable rows on SQLite, each kind of claimable row read in
    ``(status, due_at)`` order from its index. With the two kinds as one OR, SQLite gathered
    every due row through both indexes and sorted them all, for each batch: a fan-out's claims
    grew with the rows still due (half of them on average), twice (the UPDATE's own WHERE
    did the same)."""
    due = (select(Outbox.id, Outbox.due_at)
           .where(Outbox.status == OutboxStatus.PENDING, Outbox.due_at <= now)
           .order_by(Outbox.due_at, Outbox.id).limit(limit).subquery())
    lapsed = (select(Outbox.id, Outbox.due_at)
              .where(Outbox.status == OutboxStatus.CLAIMED, Outbox.claimed_until < now)
              .order_by(Outbox.due_at, Outbox.id).limit(limit).subquery())
    both = union_all(select(due.c.id, due.c.due_at), select(lapsed.c.id, lapsed.c.due_at))
    return both.order_by(both.selected_columns.due_at, both.selected_columns.id).limit(
        limit).cte("candidates")


@functools.cache
def _claim_statement(dialect: str) -> Update:
    """The claim, built once per dialect with its values as parameters: building it anew for
    each batch cost the event loop more than running it."""
    table = Outbox.__table__
    now = bindparam("now", type_=table.c.due_at.type)
    limit = bindparam("limit", type_=Integer())
    claim = (
        update(table)
        .values(status=OutboxStatus.CLAIMED, claimed_by=bindparam("worker"),
                claimed_until=bindparam("until"))
        # The claimed rows themselves, not their ids and a second read (each statement is a
        # round trip to the database thread while the event loop is busy sending).
        .returning(*(table.c[name] for name in Claimed.__slots__))
    )
    if dialect == "sqlite":
        return claim.where(table.c.id.in_(select(_sqlite_candidates(now, limit).c.id)))
    # A MATERIALIZED CTE runs once. As a plain ``IN (subquery)``, PostgreSQL may run the
    # subquery again for each row it updates, and FOR UPDATE then skips the rows this very
    # statement has just changed: every run yields the next rows, and the claim took every
    # due row whatever the limit.
    candidates = (
        select(Outbox.id)
        .where(_claimable(now))
        .order_by(Outbox.due_at, Outbox.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .cte("candidates")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    return claim.where(table.c.id.in_(select(candidates.c.id)), _claimable(now))


async def claim_due(
    session: AsyncSession, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[Claimed]:
    """Claim up to ``limit`` due rows for ``worker`` in one statement.

    PostgreSQL: the inner SELECT locks with ``FOR UPDATE SKIP LOCKED``, so concurrent workers
    take disjoint rows without waiting for each other, and the UPDATE re-checks that each row
    is still claimable. SQLite (one writer at a time): the statement reads and writes under
    the write lock in one snapshot (a connection whose snapshot is stale is refused, never
    let write), so no other worker can claim a row in between.
    """
    dialect = session.bind.dialect.name if session.bind is not None else ""
    result = await session.execute(_claim_statement(dialect), {
        "now": now, "limit": limit, "worker": worker, "until": now + lease})
    rows = [Claimed(*row) for row in result]
    # RETURNING comes in no particular order.
    return sorted(rows, key=lambda row: (row.due_at, row.id))


async def record_sent(
    session: AsyncSession, row_id: int, *, now: datetime, message_id: int | None
) -> None:
    # Not guarded by the claim: if our lease ran out and another worker re-sent it, the
    # message still went out and "sent" is the truth.
    await session.execute(
        update(Outbox)
        .where(Outbox.id == row_id)
        .values(status=OutboxStatus.SENT, sent_at=now, telegram_message_id=message_id,
                claimed_until=None, attempts=Outbox.attempts + 1, last_error=None)
        .execution_options(synchronize_session=False)
    )


@functools.cache
def _record_sent_statement() -> Update:
    table = Outbox.__table__
    return (update(table).where(table.c.id == bindparam("row_id"))
            .values(status=OutboxStatus.SENT, sent_at=bindparam("now"), claimed_until=None,
                    last_error=None, telegram_message_id=bindparam("message_id"),
                    attempts=table.c.attempts + 1))


async def record_sent_many(
    session: AsyncSession, sent: Sequence[tuple[int, int | None]], *, now: datetime
) -> None:
    """:func:`record_sent` for a whole batch, ``(row id, Telegram message id)`` each, in one
    executemany (its statement built once: see :func:`_claim_statement`)."""
    if not sent:
        return
    await session.execute(_record_sent_statement(), [
        {"row_id": row_id, "message_id": message_id, "now": now}
        for row_id, message_id in sent])


async def release_all(session: AsyncSession, row_ids: Sequence[int], *, worker: str) -> int:
    """Put back every row of a batch this worker still holds (nothing of it was sent), due as
    they were: the next tick takes them."""
    if not row_ids:
        return 0
    result = await session.execute(
        update(Outbox)
        .where(Outbox.id.in_(list(row_ids)), Outbox.status == OutboxStatus.CLAIMED,
               Outbox.claimed_by == worker)
        .values(status=OutboxStatus.PENDING, claimed_until=None, claimed_by=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Outcome:
    """What became of a claimed row that was not sent: back to pending, due at ``due_at``
    (a retry or a deferral), or a final status (failed, expired, cancelled)."""

    row_id: int
    status: OutboxStatus
    due_at: datetime | None = None
    error: str | None = None
    attempted: bool = False


@functools.cache
def _settle_statement(status: OutboxStatus) -> Update:
    table = Outbox.__table__
    values: dict[str, Any] = {
        "status": status, "claimed_until": None,
        # An outcome without an error keeps the row's last one.
        "last_error": func.coalesce(bindparam("new_error", type_=table.c.last_error.type),
                                    table.c.last_error),
        "attempts": table.c.attempts + bindparam("attempted", type_=table.c.attempts.type),
    }
    if status is OutboxStatus.PENDING:
        values |= {"due_at": bindparam("new_due_at", type_=table.c.due_at.type),
                   "claimed_by": None}
    return update(table).where(table.c.id == bindparam("row_id"),
                               table.c.status == OutboxStatus.CLAIMED,
                               table.c.claimed_by == bindparam("worker")).values(**values)


async def settle_many(session: AsyncSession, outcomes: Sequence[Outcome], *, worker: str) -> None:
    """Record a batch's outcomes other than sent: one executemany per status, each row
    guarded by this worker's claim (a row whose lease ran out and another worker took is
    left alone)."""
    by_status: dict[OutboxStatus, list[Outcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    for status, group in by_status.items():
        await session.execute(
            _settle_statement(status),
            [{"row_id": o.row_id, "new_due_at": o.due_at, "attempted": int(o.attempted),
              "new_error": clip_error(o.error) if o.error is not None else None,
              "worker": worker}
             for o in group],
        )


async def cancel_pending(
    session: AsyncSession,
    *,
    reason: str,
    person_id: int | None = None,
    ids: Iterable[int] | None = None,
) -> int:
    """Cancel rows not yet sent (pending, or claimed and not yet out) for a person or by id."""
    stmt = update(Outbox).where(Outbox.status == OutboxStatus.PENDING)
    if person_id is not None:
        stmt = stmt.where(Outbox.person_id == person_id)
    if ids is not None:
        stmt = stmt.where(Outbox.id.in_(list(ids)))
    result = await session.execute(
        stmt.values(status=OutboxStatus.CANCELLED, last_error=clip_error(reason))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def mark_unreachable(
    session: AsyncSession, person_id: int, *, now: datetime, reason: str
) -> int:
    """Telegram refused this person (blocked, deactivated, chat not found): remember it and
    cancel everything still waiting for them. Returns how many rows were cancelled."""
    await session.execute(
        update(Person)
        .where(Person.id == person_id, Person.unreachable_at.is_(None))
        .values(unreachable_at=now)
        .execution_options(synchronize_session=False)
    )
    return await cancel_pending(session, person_id=person_id, reason=f"{UNREACHABLE}: {reason}")


async def mark_unreachable_many(
    session: AsyncSession, reasons: dict[int, str], *, now: datetime
) -> None:
    """:func:`mark_unreachable` for the people a batch found unreachable (person id: Telegram's
    reason), in two statements."""
    if not reasons:
        return
    await session.execute(
        update(Person)
        .where(Person.id.in_(list(reasons)), Person.unreachable_at.is_(None))
        .values(unreachable_at=now)
        .execution_options(synchronize_session=False)
    )
    table = Outbox.__table__
    await session.execute(
        update(table).where(table.c.person_id == bindparam("person"),
                            table.c.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED, last_error=bindparam("reason")),
        [{"person": person_id, "reason": clip_error(f"{UNREACHABLE}: {reason}")}
         for person_id, reason in reasons.items()],
    )


async def paced_sent_since(
    session: AsyncSession, person_ids: Iterable[int], kinds: Iterable[str], since: datetime
) -> dict[int, list[datetime]]:
    """When each person got paced messages since ``since`` (for the weekly cap)."""
    ids = list(set(person_ids))
    if not ids:
        return {}
    # Kinds are sorted out here, not in SQL: with a kind filter SQLite may take the (kind,
    # status) index and read every sent row of those kinds instead of these people's.
    wanted = set(kinds)
    rows = await session.execute(
        select(Outbox.person_id, Outbox.sent_at, Outbox.kind, Outbox.payload).where(
            Outbox.person_id.in_(ids),
            Outbox.status == OutboxStatus.SENT,
            Outbox.sent_at >= since,
        )
    )
    sent: dict[int, list[datetime]] = {}
    for person_id, sent_at, kind, payload in rows:
        # The welcome on joining is not unsolicited.
        if kind in wanted and not (payload or {}).get("on_join"):
            sent.setdefault(person_id, []).append(sent_at)
    return sent


async def next_wake(session: AsyncSession) -> datetime | None:
    """The earliest moment a row becomes claimable (due, or its lease runs out)."""
    due = await session.scalar(
        select(Outbox.due_at).where(Outbox.status == OutboxStatus.PENDING)
        .order_by(Outbox.due_at).limit(1)
    )
    lease = await session.scalar(
        select(Outbox.claimed_until).where(Outbox.status == OutboxStatus.CLAIMED)
        .order_by(Outbox.claimed_until).limit(1)
    )
    moments = [m for m in (due, lease) if m is not None]
    return min(moments) if moments else None
