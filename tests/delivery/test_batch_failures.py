"""A dispatcher batch that fails puts its rows back at once: they go out on the next tick, not
when the lease runs out, and nothing that was sent is sent again."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.delivery.dispatcher import Dispatcher
from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from dialogs.delivery.config import DeliveryConfig
from storage.clock import FrozenClock
from storage.models import OutboxMessage
from tests.delivery.world import World, fan_out, open_world

USERS = list(range(310_001, 310_011))


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    api = LocalBotApi(limits=Limits.disabled())
    async with open_world(db_url, api) as world:
        for user in USERS:
            api.add_user(user, "P")
            api.send_text(user, "/start")
        yield world


@pytest.fixture
async def dispatcher(world: World, clock: FrozenClock) -> Dispatcher:
    await fan_out(world.sessions, USERS, clock.now())
    config = DeliveryConfig(send_rate_per_second=None, batch_size=100, concurrency=4)
    return world.dispatcher(clock, config, worker="w1")


async def statuses(world: World) -> Counter[str]:
    async with world.sessions() as session:
        return Counter(str(s) for s in await session.scalars(select(OutboxMessage.status)))


async def test_a_batch_that_fails_before_sending_is_put_back_at_once(
    world: World, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = dispatcher.renderer.load

    async def broken(*_: Any) -> Any:
        raise RuntimeError("a bug while loading the batch")

    monkeypatch.setattr(dispatcher.renderer, "load", broken)
    with pytest.raises(RuntimeError):
        await dispatcher.run_batch()
    assert await statuses(world) == Counter({"pending": len(USERS)})  # none left claimed

    monkeypatch.setattr(dispatcher.renderer, "load", load)
    report = await dispatcher.run_batch()  # the next tick, same moment
    assert report.sent == len(USERS)
    assert world.sends_per_chat() == Counter({user: 1 for user in USERS})


async def test_a_row_that_cannot_be_rendered_fails_alone(
    world: World, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    render = dispatcher.renderer.render

    async def picky(session: Any, row: OutboxMessage, facts: Any) -> Any:
        if row.chat_id == USERS[0]:
            raise ValueError("a payload this release cannot read")
        return await render(session, row, facts)

    monkeypatch.setattr(dispatcher.renderer, "render", picky)
    report = await dispatcher.run_batch()
    assert (report.sent, report.failed) == (len(USERS) - 1, 1)
    assert await statuses(world) == Counter({"sent": len(USERS) - 1, "failed": 1})


async def test_when_recording_fails_what_was_sent_stays_sent(
    world: World, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: Any) -> None:
        raise RuntimeError("a bug while recording")

    monkeypatch.setattr(dispatcher, "_record", broken)
    with pytest.raises(RuntimeError):
        await dispatcher.run_batch()
    assert await statuses(world) == Counter({"sent": len(USERS)})
    monkeypatch.undo()
    await dispatcher.run_until_idle()
    assert world.sends_per_chat() == Counter({user: 1 for user in USERS})
