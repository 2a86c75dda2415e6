"""Two workers on one database: each row is claimed, and sent, exactly once.

On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED``; on SQLite the guarded UPDATE.
Each worker has its own engine (its own connections), as two bot processes would.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from storage.clock import FrozenClock
from storage.engine import create_engine, create_sessionmaker
from storage.models import OutboxMessage, OutboxStatus
from tests.delivery.world import fan_out, open_world
from tests.figures import record_figure

N = 600


async def test_two_workers_send_each_row_exactly_once(db_url: str) -> None:
    clock = FrozenClock()
    api = LocalBotApi(limits=Limits.disabled())
    users = list(range(300_001, 300_001 + N))
    second_engine = create_engine(db_url)
    try:
        async with open_world(db_url, api) as world:
            for user in users:
                api.add_user(user, "P")
                api.send_text(user, "/start")
            await fan_out(world.sessions, users, clock.now())
            config = DeliveryConfig(send_rate_per_second=None, batch_size=25, concurrency=4)
            one = world.dispatcher(clock, config, worker="worker-1")
            two = world.dispatcher(clock, config, worker="worker-2")
            two.sessions = create_sessionmaker(second_engine)  # a process of its own

            for _ in range(100):
                await asyncio.gather(one.run_until_idle(), two.run_until_idle())
                async with world.sessions() as session:
                    if await outbox.next_wake(session) is None:
                        break
                clock.advance(timedelta(seconds=1))

            per_chat = world.sends_per_chat()
            async with world.sessions() as session:
                by_worker = dict((await session.execute(
                    select(OutboxMessage.claimed_by, func.count())
                    .where(OutboxMessage.status == OutboxStatus.SENT)
                    .group_by(OutboxMessage.claimed_by))).all())
        record_figure(f"two workers: sent by worker {by_worker}, "
              f"messages={sum(per_chat.values())} chats={len(per_chat)}")
        assert per_chat == Counter({user: 1 for user in users})
        assert sum(by_worker.values()) == N
        assert by_worker.get("worker-1", 0) > 0
        assert by_worker.get("worker-2", 0) > 0
    finally:
        await second_engine.dispose()
