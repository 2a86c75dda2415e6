"""A worker claims one batch, not every due row: what a killed worker held waits for its
lease, so a claim beyond ``batch_size`` would hold back everybody else's messages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from dialogs.delivery import outbox
from dialogs.delivery.kinds import Kind
from storage.engine import Sessions
from storage.models import OutboxMessage, OutboxStatus

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_a_claim_takes_at_most_its_limit(sessions: Sessions) -> None:
    async with sessions.begin() as session:
        await outbox.add_rows(session, [outbox.NewRow(
            person_id=None, chat_id=chat, kind=Kind.WEBINAR_REMINDER, dedup_key=f"k{chat}",
            due_at=NOW) for chat in range(1, 121)], NOW)
    async with sessions.begin() as session:
        first = await outbox.claim_due(session, now=NOW, worker="w1", limit=50,
                                       lease=timedelta(minutes=2))
    async with sessions.begin() as session:
        second = await outbox.claim_due(session, now=NOW, worker="w2", limit=50,
                                        lease=timedelta(minutes=2))
    assert len(first) == 50
    assert len(second) == 50
    assert not {r.id for r in first} & {r.id for r in second}
    async with sessions() as session:
        claimed = await session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.CLAIMED))
    assert claimed == 100
