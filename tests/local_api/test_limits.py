"""Flood control, measured with the injected clock: no test sleeps."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram.error import RetryAfter

from bot.local_api import Limits, LocalBotApi
from bot.local_api.limits import RateLimiter

from .conftest import FakeClock, make_bot


@pytest.fixture
async def limited(clock: FakeClock) -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi(clock=clock) as server:  # Telegram-like default limits
        yield server


def retry_seconds(error: RetryAfter) -> int:
    value = error.retry_after
    return value if isinstance(value, int) else int(value.total_seconds())


async def test_private_chat_one_per_second_after_a_small_burst(
    limited: LocalBotApi, clock: FakeClock
) -> None:
    limited.add_user(1, "A")
    limited.send_text(1, "/start")
    async with make_bot(limited) as bot:
        for i in range(limited.limits.private_burst):
            await bot.send_message(1, f"burst {i}")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(1, "too fast")
        assert retry_seconds(info.value) == 1
        assert limited.calls[-1].description == "Too Many Requests: retry after 1"
        clock.advance(1.0)
        await bot.send_message(1, "allowed again")
        # Edits count too.
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("edit", 1, 2)


async def test_an_edit_refused_by_flood_control_changes_nothing(
    limited: LocalBotApi, clock: FakeClock
) -> None:
    limited.add_user(1, "A")
    limited.send_text(1, "/start")
    async with make_bot(limited) as bot:
        sent = await bot.send_message(1, "original")
        for i in range(limited.limits.private_burst - 1):
            await bot.send_message(1, f"burst {i}")
        with pytest.raises(RetryAfter):
            await bot.edit_message_text("changed", 1, sent.message_id)
        assert limited.messages_to(1)[0].text == "original"
        clock.advance(1.0)
        # The retry a client makes after waiting is applied, not "not modified".
        await bot.edit_message_text("changed", 1, sent.message_id)
        assert limited.messages_to(1)[0].text == "changed"


async def test_bot_wide_thirty_per_second(limited: LocalBotApi, clock: FakeClock) -> None:
    users = range(100, 131)
    for user_id in users:
        limited.add_user(user_id, f"U{user_id}")
        limited.send_text(user_id, "/start")
    async with make_bot(limited) as bot:
        for user_id in list(users)[:30]:
            await bot.send_message(user_id, "broadcast")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(130, "one too many")
        assert retry_seconds(info.value) >= 1
        clock.advance(0.1)  # 3 tokens back at 30/s
        await bot.send_message(130, "fine now")


async def test_group_twenty_per_minute(limited: LocalBotApi, clock: FakeClock) -> None:
    limited.add_group(-500, "Holdet")
    async with make_bot(limited) as bot:
        for i in range(20):
            await bot.send_message(-500, f"msg {i}")
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(-500, "21st within a minute")
        assert retry_seconds(info.value) == 3  # one message per 3 s
        clock.advance(retry_seconds(info.value))
        await bot.send_message(-500, "after waiting")


async def test_limits_can_be_raised_or_disabled(limited: LocalBotApi) -> None:
    limited.add_user(1, "A")
    limited.send_text(1, "/start")
    limited.set_limits(Limits.disabled())
    async with make_bot(limited) as bot:
        for i in range(50):
            await bot.send_message(1, f"m{i}")


def test_token_bucket_refuses_without_consuming() -> None:
    clock = FakeClock()
    limiter = RateLimiter(Limits(private_burst=1), clock)
    assert limiter.check(1, is_group=False) is None
    assert limiter.check(1, is_group=False) == 1
    assert limiter.check(1, is_group=False) == 1
    clock.advance(1.0)
    assert limiter.check(1, is_group=False) is None
