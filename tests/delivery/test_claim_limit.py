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


async def test_a_claim_takes_the_earliest_claimable_rows_of_both_kinds(sessions: Sessions) -> None:
    """Due rows and rows whose lease ran out are claimed together, earliest due first (ties
    by id); rows not yet due, sent, or held by a live lease are never taken."""
    lease = timedelta(minutes=2)

    def row(chat: int, due: timedelta) -> outbox.NewRow:
        return outbox.NewRow(person_id=None, chat_id=chat, kind=Kind.WEBINAR_REMINDER,
                             dedup_key=f"k{chat}", due_at=NOW + due)

    async with sessions.begin() as session:
        # chats 1-6 due at 1..6 minutes ago (2 and 5 will be held by a lease that ran out,
        # 3 by a live one), 7 sent, 8 and 9 due at the same moment, 10 not yet due.
        await outbox.add_rows(session, [
            *(row(chat, -timedelta(minutes=chat)) for chat in range(1, 8)),
            row(8, -timedelta(minutes=10)), row(9, -timedelta(minutes=10)),
            row(10, timedelta(minutes=1))], NOW - timedelta(hours=1))
    async with sessions.begin() as session:
        ids = {r.chat_id: r.id for r in await session.scalars(select(OutboxMessage))}
        await session.execute(OutboxMessage.__table__.update().where(
            OutboxMessage.id.in_([ids[2], ids[5], ids[3]])).values(
            status=OutboxStatus.CLAIMED, claimed_by="gone", claimed_until=NOW - lease))
        await session.execute(OutboxMessage.__table__.update().where(
            OutboxMessage.id == ids[3]).values(claimed_by="alive", claimed_until=NOW + lease))
        await session.execute(OutboxMessage.__table__.update().where(
            OutboxMessage.id == ids[7]).values(status=OutboxStatus.SENT))
    async with sessions.begin() as session:
        first = await outbox.claim_due(session, now=NOW, worker="w1", limit=4, lease=lease)
    async with sessions.begin() as session:
        rest = await outbox.claim_due(session, now=NOW, worker="w2", limit=4, lease=lease)
    by_id = {row_id: chat for chat, row_id in ids.items()}
    assert [by_id[r.id] for r in first] == [8, 9, 6, 5]
    assert [by_id[r.id] for r in rest] == [4, 2, 1]
    async with sessions() as session:
        holders = dict((await session.execute(select(
            OutboxMessage.chat_id, OutboxMessage.claimed_by).where(
            OutboxMessage.status == OutboxStatus.CLAIMED))).all())
    assert holders == {8: "w1", 9: "w1", 6: "w1", 5: "w1", 4: "w2", 2: "w2", 1: "w2",
                       3: "alive"}
