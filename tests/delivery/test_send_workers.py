"""How a batch is sent: ``concurrency`` workers, one chat's rows in order, and a chat with more
rows going to the back of the line after each (Telegram allows about one message a second
per chat). Counted with a recording sender, never timed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.delivery.dispatcher import Delivered, Dispatcher, Sender, SendResult
from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from dialogs.outbox_render import Renderer
from dialogs.screen import Screen
from storage import queries
from storage.clock import FrozenClock
from tests.delivery.helpers import add_members, make_team
from tests.delivery.world import World, catalogs, open_world


class RecordingSender:
    def __init__(self) -> None:
        self.sent: list[tuple[int, str]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def send(self, chat_id: int, screen: Screen) -> SendResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        for _ in range(3):  # answers come back later, and interleaved
            await asyncio.sleep(0)
        self.in_flight -= 1
        self.sent.append((chat_id, screen.text))
        return Delivered(len(self.sent))


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    async with open_world(db_url, LocalBotApi(limits=Limits.disabled())) as world:
        yield world


async def _reminders(world: World, now, rows: list[tuple[int, int]]) -> None:
    """A due webinar reminder per (user, module), inserted in this order."""
    users = sorted({user for user, _ in rows})
    async with world.sessions.begin() as session:
        team = await make_team(session)
        members = {m.user_id: m for m in await add_members(
            session, team, users, joined_at=now - timedelta(days=1))}
        webinars = await queries.team_sessions(session, team.id)
        for user, module in rows:
            webinar, member = webinars[module - 1], members[user]
            await outbox.add_rows(session, [outbox.NewRow(
                person_id=member.person_id, chat_id=user, kind=Kind.WEBINAR_REMINDER,
                dedup_key=f"w:{user}:{module}", due_at=now, expires_at=webinar.starts_at,
                payload={"membership_id": member.membership_id, "module_no": module,
                         "webinar_id": webinar.id, "starts_at": webinar.starts_at.isoformat(),
                         "offset_minutes": 1440})], now)


def _dispatcher(world: World, clock: FrozenClock, sender: Sender,
                concurrency: int, batch_size: int = 50) -> Dispatcher:
    config = DeliveryConfig(send_rate_per_second=None, batch_size=batch_size,
                            concurrency=concurrency)
    return Dispatcher(world.sessions, sender, Renderer(catalogs(), "da"), clock, config,
                      worker="w1")


async def test_a_chat_with_more_rows_goes_to_the_back_of_the_line(
    world: World, clock: FrozenClock
) -> None:
    a, b, c = 320_001, 320_002, 320_003
    await _reminders(world, clock.now(), [(a, 1), (a, 2), (b, 1), (c, 1)])
    sender = RecordingSender()
    report = await _dispatcher(world, clock, sender, concurrency=1).run_batch()
    assert report.sent == 4
    assert [chat for chat, _ in sender.sent] == [a, b, c, a]
    # A's rows in their order: module 1's reminder before module 2's.
    a_texts = [text for chat, text in sender.sent if chat == a]
    assert "modul 1 " in a_texts[0]
    assert "modul 2 " in a_texts[1]


async def test_a_batch_keeps_concurrency_sends_in_flight_and_no_more(
    world: World, clock: FrozenClock
) -> None:
    users = list(range(320_101, 320_121))
    await _reminders(world, clock.now(), [(user, 1) for user in users])
    sender = RecordingSender()
    report = await _dispatcher(world, clock, sender, concurrency=4).run_batch()
    assert report.sent == len(users)
    assert sender.most_in_flight == 4
    assert sorted(chat for chat, _ in sender.sent) == users  # each chat once


class SlowFirst(RecordingSender):
    """The first chat's answer comes late: once the next batch is prepared, until it has
    begun sending or fifty more turns of the event loop have passed."""

    def __init__(self, slow_chat: int, next_batch_chats: set[int]) -> None:
        super().__init__()
        self.slow_chat, self.next_batch_chats = slow_chat, next_batch_chats
        self.begun: list[int] = []
        self.next_began_while_slow = False
        self.prepared = asyncio.Event()

    def watch(self, dispatcher: Dispatcher) -> Dispatcher:
        next_batch = dispatcher._next_batch

        async def noting(**kwargs: Any) -> Any:
            batch = await next_batch(**kwargs)
            if kwargs["in_flight"] is not None:
                self.prepared.set()
            return batch

        dispatcher._next_batch = noting  # type: ignore[method-assign]
        return dispatcher

    async def send(self, chat_id: int, screen: Screen) -> SendResult:
        self.begun.append(chat_id)
        if chat_id == self.slow_chat:
            await self.prepared.wait()
            for _ in range(50):
                if self.next_batch_chats & set(self.begun):
                    self.next_began_while_slow = True
                    break
                await asyncio.sleep(0)
        return await super().send(chat_id, screen)


async def test_the_next_batch_takes_the_slots_the_one_before_no_longer_needs(
    world: World, clock: FrozenClock
) -> None:
    first, second = [320_201, 320_202, 320_203, 320_204], [320_205, 320_206, 320_207, 320_208]
    await _reminders(world, clock.now(), [(user, 1) for user in first + second])
    sender = SlowFirst(first[0], set(second))
    report = await sender.watch(_dispatcher(world, clock, sender, concurrency=2,
                                            batch_size=4)).run_until_idle()
    assert report.sent == 8
    # The first batch's slow send was still out when the second batch began sending ...
    assert sender.next_began_while_slow
    # ... and never more than ``concurrency`` at a time, each chat once.
    assert sender.most_in_flight == 2
    assert sorted(chat for chat, _ in sender.sent) == first + second


async def test_a_chat_in_two_batches_waits_for_the_batch_before(
    world: World, clock: FrozenClock
) -> None:
    a, others = 320_301, [320_302, 320_303, 320_304, 320_305, 320_306]
    # Batch one: a's first row and three others; batch two: a's second row first in line.
    await _reminders(world, clock.now(), [(a, 1), *[(u, 1) for u in others[:3]], (a, 2),
                                          *[(u, 1) for u in others[3:]]])
    sender = SlowFirst(a, {others[3], others[4]})
    report = await sender.watch(_dispatcher(world, clock, sender, concurrency=2,
                                            batch_size=4)).run_until_idle()
    assert report.sent == 7
    a_texts = [text for chat, text in sender.sent if chat == a]
    assert "modul 1 " in a_texts[0]
    assert "modul 2 " in a_texts[1]
