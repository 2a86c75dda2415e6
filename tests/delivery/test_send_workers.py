"""How a batch is sent: ``concurrency`` workers, one chat's rows in order, and a chat with more
rows going to the back of the line after each (Telegram allows about one message a second
per chat). Counted with a recording sender, never timed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.delivery.dispatcher import Delivered, Dispatcher, SendResult
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


def _dispatcher(world: World, clock: FrozenClock, sender: RecordingSender,
                concurrency: int) -> Dispatcher:
    config = DeliveryConfig(send_rate_per_second=None, batch_size=50, concurrency=concurrency)
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
