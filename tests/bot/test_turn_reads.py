"""The update's read session (bot/turn.py): one connection for the reads of an update, never
held while Telegram answers, and never hiding the update's own writes — on both databases
(the ``engine`` fixture, tests/fixtures/postgres.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import turn
from bot.replies import ReplyLimiter
from bot.turn import TurnSessions
from storage.clock import FrozenClock
from storage.models import Municipality


async def _names(session: Any) -> list[str]:
    return list(await session.scalars(select(Municipality.name).order_by(Municipality.name)))


async def test_an_update_reads_in_one_session_and_sees_its_own_writes(
    engine: AsyncEngine,
) -> None:
    sessions = TurnSessions(engine)

    async def update() -> None:
        turn.begin()
        async with turn.reading(sessions) as first:
            assert await _names(first) == []
        async with turn.reading(sessions) as second:
            assert second is first  # the handler reads on where the actor loader stopped
            assert engine.pool.checkedout() == 1
        async with sessions.begin() as write:
            write.add(Municipality(name="Køge", country="DK", timezone="Europe/Copenhagen",
                                   default_language="da", created_at=FrozenClock().now()))
        assert engine.pool.checkedout() == 0  # the write ended the read first
        async with turn.reading(sessions) as third:
            assert third is not first
            assert await _names(third) == ["Køge"]  # a fresh snapshot, on SQLite too
        await turn.current().end_reads()  # type: ignore[union-attr]
        assert engine.pool.checkedout() == 0

    await asyncio.create_task(update())


async def test_nothing_is_held_while_telegram_answers(engine: AsyncEngine) -> None:
    sessions = TurnSessions(engine)
    limiter = ReplyLimiter()
    held: list[int] = []

    async def telegram(*_: Any) -> bool:
        held.append(engine.pool.checkedout())
        return True

    async def update() -> None:
        turn.begin()
        async with turn.reading(sessions) as session:
            await _names(session)
        assert engine.pool.checkedout() == 1
        await limiter.process_request(telegram, (), {}, "sendMessage", {"chat_id": 1}, None)

    await asyncio.create_task(update())
    assert held == [0]


async def test_a_read_that_telegram_interrupts_holds_nothing_afterwards(
    engine: AsyncEngine,
) -> None:
    sessions = TurnSessions(engine)
    limiter = ReplyLimiter()

    async def telegram(*_: Any) -> bool:
        return True

    async def update() -> None:
        turn.begin()
        async with turn.reading(sessions) as session:
            await _names(session)
            await limiter.process_request(telegram, (), {}, "sendMessage", {"chat_id": 1}, None)
            await _names(session)  # read on after the reply: a new transaction
        assert engine.pool.checkedout() == 0

    await asyncio.create_task(update())


async def test_a_task_the_update_starts_reads_in_a_session_of_its_own(
    engine: AsyncEngine,
) -> None:
    sessions = TurnSessions(engine)

    async def update() -> None:
        turn.begin()
        async with turn.reading(sessions) as mine:
            await _names(mine)

        async def other() -> Any:
            async with turn.reading(sessions) as theirs:
                await _names(theirs)
                return theirs

        # An asyncio session is not for two tasks at once: the started task gets its own.
        assert await asyncio.create_task(other()) is not mine
        await turn.current().end_reads()  # type: ignore[union-attr]

    await asyncio.create_task(update())
    assert engine.pool.checkedout() == 0


class HandlerFailed(Exception):
    pass


async def test_a_failed_read_is_not_read_on_in(engine: AsyncEngine) -> None:
    sessions = TurnSessions(engine)

    async def update() -> None:
        turn.begin()
        failed = None

        async def handler() -> None:
            nonlocal failed
            async with turn.reading(sessions) as failed:
                await _names(failed)
                raise HandlerFailed

        with pytest.raises(HandlerFailed):
            await handler()
        assert engine.pool.checkedout() == 0
        async with turn.reading(sessions) as again:
            assert again is not failed
            assert await _names(again) == []
        await turn.current().end_reads()  # type: ignore[union-attr]

    await asyncio.create_task(update())
