"""The inbox's queries: record an update once, claim each chat's next one, mark it handled.

Order across workers comes from the claim itself, not from a lock held while handling: a worker
may claim an update only when it is the earliest unhandled update of its chat and nobody holds
a live lease on it. So a chat has at most one update claimed at a time, and its next update
becomes claimable only once the earlier one is handled (or its worker's lease ran out). A lease
rather than a PostgreSQL advisory lock because a lock lives on one connection: keeping a
connection per update in flight would tie the pool to the number of chats being handled, and
the same query then serves SQLite (one worker) too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.bulk import insert_ignoring
from storage.models import InboxUpdate


@dataclass(frozen=True)
class Claimed:
    update_id: int
    payload: dict[str, Any]


async def record(
    session: AsyncSession, *, update_id: int, chat_key: int, payload: dict[str, Any],
    now: datetime,
) -> bool:
    """Record an update unless its id is known already (a resend); True when it is new."""
    row = {"update_id": update_id, "chat_key": chat_key, "payload": payload, "received_at": now}
    return await insert_ignoring(session, InboxUpdate, [row], ["update_id"]) == 1


def _claimable(now: datetime) -> Any:
    earlier = aliased(InboxUpdate)
    return and_(
        InboxUpdate.handled_at.is_(None),
        or_(InboxUpdate.claimed_until.is_(None), InboxUpdate.claimed_until < now),
        ~exists().where(
            earlier.handled_at.is_(None),
            earlier.chat_key == InboxUpdate.chat_key,
            earlier.update_id < InboxUpdate.update_id,
        ),
    )


async def claim(
    session: AsyncSession, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[Claimed]:
    """Claim up to ``limit`` updates, at most one per chat, each its chat's earliest unhandled.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets workers claim side by side; a row another
    worker claimed meanwhile fails the lease condition when PostgreSQL re-checks the locked
    row, and a chat's later update is never claimable while the earlier one is unhandled.
    SQLite (one worker; one writer at a time): the UPDATE re-checks the same conditions.
    """
    # Two statements, not UPDATE … WHERE id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED): in
    # one statement PostgreSQL may run the locking subquery again for every row it updates,
    # each time skipping the rows it has just locked, and so claim far more than ``limit``.
    # The rows locked here stay locked until the transaction (the claim) commits.
    ids = list(await session.scalars(
        select(InboxUpdate.update_id)
        .where(_claimable(now))
        .order_by(InboxUpdate.update_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ))
    if not ids:
        return []
    stmt = (
        update(InboxUpdate)
        .where(InboxUpdate.update_id.in_(ids), _claimable(now))
        .values(claimed_by=worker, claimed_until=now + lease)
        .returning(InboxUpdate.update_id, InboxUpdate.payload)
        .execution_options(synchronize_session=False)
    )
    rows = (await session.execute(stmt)).all()
    return sorted((Claimed(uid, payload or {}) for uid, payload in rows),
                  key=lambda c: c.update_id)


async def mark_handled(
    session: AsyncSession, update_ids: Sequence[int], *, now: datetime
) -> None:
    """Handled: the payload (what the person wrote) goes at once; the id stays for a while."""
    await session.execute(
        update(InboxUpdate).where(InboxUpdate.update_id.in_(update_ids))
        .values(handled_at=now, payload=None, claimed_until=None)
        .execution_options(synchronize_session=False)
    )


async def renew(
    session: AsyncSession, update_ids: Sequence[int], *, worker: str, until: datetime
) -> None:
    """Extend this worker's leases on the updates it is still handling."""
    await session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.update_id.in_(update_ids), InboxUpdate.claimed_by == worker,
               InboxUpdate.handled_at.is_(None))
        .values(claimed_until=until)
        .execution_options(synchronize_session=False)
    )


async def prune(session: AsyncSession, *, handled_before: datetime) -> int:
    result = await session.execute(
        delete(InboxUpdate).where(InboxUpdate.handled_at < handled_before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unhandled(session: AsyncSession) -> int:
    """How many recorded updates are not handled yet."""
    return int(await session.scalar(
        select(func.count()).select_from(InboxUpdate).where(InboxUpdate.handled_at.is_(None)))
        or 0)
