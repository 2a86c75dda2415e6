"""The webhook inbox (storage/inbox.py) on both databases: each update recorded once, each
chat's updates claimed one at a time in order, a dead worker's claim taken again after its
lease, and what people wrote gone once handled."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from storage import inbox
from storage.engine import Sessions
from storage.models import InboxUpdate

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
LEASE = timedelta(seconds=15)
ANNA, BO = 501, 502


async def _record(sessions: Sessions, update_id: int, chat: int, text: str = "hej") -> bool:
    async with sessions.begin() as session:
        return await inbox.record(session, update_id=update_id, chat_key=chat,
                                  payload={"update_id": update_id, "text": text}, now=NOW)


async def _claim(sessions: Sessions, worker: str, now: datetime = NOW,
                 limit: int = 10) -> list[int]:
    async with sessions.begin() as session:
        claimed = await inbox.claim(session, now=now, worker=worker, limit=limit, lease=LEASE)
    return [c.update_id for c in claimed]


async def _handled(sessions: Sessions, *update_ids: int, now: datetime = NOW) -> None:
    async with sessions.begin() as session:
        await inbox.mark_handled(session, update_ids, now=now)


async def test_a_resent_update_is_recorded_once(sessions: Sessions) -> None:
    assert await _record(sessions, 10, ANNA)
    assert not await _record(sessions, 10, ANNA, "sent again")
    async with sessions() as session:
        rows = list(await session.scalars(select(InboxUpdate)))
    assert [(r.update_id, r.chat_key, r.payload) for r in rows] == [
        (10, ANNA, {"update_id": 10, "text": "hej"})]


async def test_a_chats_next_update_waits_until_the_earlier_one_is_handled(
    sessions: Sessions,
) -> None:
    for update_id, chat in ((1, ANNA), (2, BO), (3, ANNA), (4, ANNA), (5, BO)):
        await _record(sessions, update_id, chat)
    # One update per chat, each the chat's earliest; the other worker finds nothing free.
    assert await _claim(sessions, "w1") == [1, 2]
    assert await _claim(sessions, "w2") == []
    await _handled(sessions, 1)
    assert await _claim(sessions, "w2") == [3]
    await _handled(sessions, 2, 3)
    assert await _claim(sessions, "w1") == [4, 5]
    await _handled(sessions, 4, 5)
    assert await _claim(sessions, "w1") == []
    async with sessions() as session:
        assert await inbox.unhandled(session) == 0


async def test_a_dead_workers_update_is_taken_again_once_its_lease_ran_out(
    sessions: Sessions,
) -> None:
    await _record(sessions, 1, ANNA)
    await _record(sessions, 2, ANNA)
    assert await _claim(sessions, "dead") == [1]
    assert await _claim(sessions, "alive", NOW + LEASE - timedelta(seconds=1)) == []
    # A live worker keeps its claim by renewing it.
    async with sessions.begin() as session:
        await inbox.renew(session, [1], worker="dead", until=NOW + 2 * LEASE)
    assert await _claim(sessions, "alive", NOW + LEASE + timedelta(seconds=1)) == []
    assert await _claim(sessions, "alive", NOW + 2 * LEASE + timedelta(seconds=1)) == [1]
    # The dead worker cannot renew what another worker has taken.
    async with sessions.begin() as session:
        await inbox.renew(session, [1], worker="dead", until=NOW + 10 * LEASE)
        row = await session.get(InboxUpdate, 1)
        assert row is not None
        assert row.claimed_by == "alive"
        assert row.claimed_until == NOW + 3 * LEASE + timedelta(seconds=1)


async def test_what_a_person_wrote_is_gone_once_handled_and_the_id_later(
    sessions: Sessions,
) -> None:
    await _record(sessions, 1, ANNA, "my private words")
    await _claim(sessions, "w1")
    await _handled(sessions, 1)
    async with sessions() as session:
        row = await session.get(InboxUpdate, 1)
        assert row is not None
        assert row.payload is None
        assert row.handled_at == NOW
    # Still known: Telegram resending it (our 200 was lost) does not get it handled again.
    assert not await _record(sessions, 1, ANNA, "my private words")
    assert await _claim(sessions, "w1") == []
    async with sessions.begin() as session:
        assert await inbox.prune(session, handled_before=NOW) == 0
        assert await inbox.prune(session, handled_before=NOW + timedelta(seconds=1)) == 1
    async with sessions() as session:
        assert list(await session.scalars(select(InboxUpdate))) == []


async def test_workers_claiming_at_once_take_each_update_once_in_chat_order(
    sessions: Sessions,
) -> None:
    chats = list(range(1000, 1040))
    update_id = 0
    expected: dict[int, list[int]] = {chat: [] for chat in chats}
    for _ in range(5):
        for chat in chats:
            update_id += 1
            await _record(sessions, update_id, chat)
            expected[chat].append(update_id)
    handled: dict[int, list[int]] = {chat: [] for chat in chats}
    chat_of = {u: c for c, ids in expected.items() for u in ids}

    async def worker(name: str) -> None:
        while True:
            taken = await _claim(sessions, name, limit=7)
            assert len(taken) <= 7
            if not taken:
                async with sessions() as session:
                    if await inbox.unhandled(session) == 0:
                        return
                await asyncio.sleep(0)  # another worker holds the rest; let it finish
                continue
            for u in taken:
                handled[chat_of[u]].append(u)
            await _handled(sessions, *taken)

    await asyncio.gather(*(worker(f"w{n}") for n in range(4)))
    assert handled == expected
