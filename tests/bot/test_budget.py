"""Replies and the outbox share one budget of Telegram's rate; the outbox takes only what
replies leave, so a reply never queues behind a fan-out."""

from __future__ import annotations

import asyncio

from bot.budget import SendBudget


async def test_the_outbox_takes_the_whole_rate_but_leaves_a_reply_room_at_once() -> None:
    budget = SendBudget(30, reserve=3)
    taken = 0
    while budget.spare_now():  # a fan-out takes all it may without waiting
        await budget.spare()
        taken += 1
    assert taken >= budget.burst - 3  # the whole burst but the reserve: no fixed share

    more = asyncio.create_task(budget.spare())  # the fan-out waits for the next refill
    for _ in range(3):  # while replies go at once, ahead of it
        assert budget.limiter.has_capacity()
        await budget.limiter.acquire()
    assert not more.done()
    more.cancel()


async def test_a_dispatcher_alone_keeps_no_reserve() -> None:
    budget = SendBudget(5, reserve=0)
    for _ in range(budget.burst):
        assert budget.spare_now()
        await budget.spare()
