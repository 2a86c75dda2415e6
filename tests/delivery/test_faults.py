"""1,000 due messages while the local Bot API throws 429 storms, 5xx, timeouts, dropped
connections and blocked users: every message is delivered or correctly classified."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from dialogs.delivery.config import DeliveryConfig
from storage.clock import FrozenClock
from storage.migrate import upgrade_async
from storage.models import OutboxMessage, OutboxStatus, Person
from tests.delivery.helpers import run_timeline
from tests.delivery.world import fan_out, open_world
from tests.figures import record_figure

N = 1000
BLOCKED = range(100_001, 100_021)  # 20 blocked the bot
DEACTIVATED = range(100_021, 100_031)  # 10 deleted their account
NEVER_STARTED = range(100_031, 100_041)  # 10 never wrote to the bot: "chat not found"


async def test_thousand_messages_through_storms_and_faults(tmp_path: Path) -> None:
    clock = FrozenClock()
    url = f"sqlite:///{tmp_path / 'faults.sqlite3'}"
    await upgrade_async(url)
    # Flood control runs on the test's clock: the limit is real, the waiting is not.
    api = LocalBotApi(clock=lambda: clock.now().timestamp(), limits=Limits())
    users = list(range(100_001, 100_001 + N))
    async with open_world(url, api) as world:
        for user in users:
            api.add_user(user, "P", language_code="da")
            if user not in NEVER_STARTED:
                api.send_text(user, "/start")
        for user in BLOCKED:
            api.block(user)
        for user in DEACTIVATED:
            api.deactivate(user)
        await fan_out(world.sessions, users, clock.now())

        storm = api.faults.storm_429(duration=20, retry_after=7)
        bad_gateway = api.faults.server_errors(60, status=502, methods=["sendMessage"])
        internal = api.faults.server_errors(40, status=500, methods=["sendMessage"])
        dropped = api.faults.drop(20, methods=["sendMessage"])
        # Answers slower than the client waits: a timeout, though the message may arrive.
        slow = api.faults.slow(25, delay=0.3, methods=["sendMessage"])
        config = DeliveryConfig(send_rate_per_second=None, batch_size=100, concurrency=8)
        dispatcher = world.dispatcher(clock, config, worker="w1", timeout=0.1)

        report = await run_timeline(dispatcher, clock, clock.now() + timedelta(hours=2))

        async with world.sessions() as session:
            statuses = Counter(dict((await session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )).all()))
            errors = Counter(dict((await session.execute(
                select(OutboxMessage.last_error, func.count())
                .where(OutboxMessage.status == OutboxStatus.FAILED)
                .group_by(OutboxMessage.last_error)
            )).all()))
            unreachable = await session.scalar(
                select(func.count()).select_from(Person).where(Person.unreachable_at.is_not(None)))

        per_chat = world.sends_per_chat()
        gone = set(BLOCKED) | set(DEACTIVATED) | set(NEVER_STARTED)
        delivered = {chat for chat in per_chat}
        duplicates = sum(per_chat.values()) - len(per_chat)
        flood_429 = sum(1 for c in api.calls_to("sendMessage") if c.error_code == 429)
        record_figure(f"fault injection: sent={statuses[OutboxStatus.SENT]} "
              f"failed={statuses[OutboxStatus.FAILED]} 429s={flood_429} "
              f"(storm {storm.hits}) 5xx={bad_gateway.hits + internal.hits} "
              f"dropped={dropped.hits} timeouts={slow.hits} duplicates={duplicates} "
              f"retried={report.retried} errors={dict(errors)}")

        assert storm.hits > 0
        assert bad_gateway.hits == 60
        assert internal.hits == 40
        assert dropped.hits == 20
        assert slow.hits == 25
        assert flood_429 > storm.hits  # the per-bot limit of 30/s was hit too
        assert statuses == {OutboxStatus.SENT: N - len(gone), OutboxStatus.FAILED: len(gone)}
        assert errors == {
            "Forbidden: bot was blocked by the user": len(BLOCKED),
            "Forbidden: user is deactivated": len(DEACTIVATED),
            "Chat not found": len(NEVER_STARTED),
        }
        assert unreachable == len(gone)
        assert delivered == set(users) - gone  # every reachable person got the message
        # A timed-out send may still have arrived; only those can repeat.
        assert duplicates <= slow.hits


async def test_a_persistent_server_error_ends_as_failed_with_the_reason(tmp_path: Path) -> None:
    clock = FrozenClock()
    url = f"sqlite:///{tmp_path / 'fail.sqlite3'}"
    await upgrade_async(url)
    api = LocalBotApi(clock=lambda: clock.now().timestamp())
    async with open_world(url, api) as world:
        api.add_user(1, "P")
        api.send_text(1, "/start")
        await fan_out(world.sessions, [1], clock.now())
        api.faults.server_errors(1000, status=502, methods=["sendMessage"])
        config = DeliveryConfig(send_rate_per_second=None, max_attempts=4)
        dispatcher = world.dispatcher(clock, config, worker="w1")
        await run_timeline(dispatcher, clock, clock.now() + timedelta(hours=1))
        async with world.sessions() as session:
            row = await session.scalar(select(OutboxMessage))
        assert row is not None
        assert (row.status, row.attempts, row.last_error) == (OutboxStatus.FAILED, 4, "Bad Gateway")
        # Backoff doubled between tries: 30 s, 60 s, 120 s.
        assert clock.now() - row.due_at < timedelta(minutes=1)
