"""Injected faults are observed by PTB as Telegram's failures would be."""

from __future__ import annotations

import pytest
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.local_api import LocalBotApi

from .conftest import FakeClock, make_bot


async def test_429_storm_by_count(bot, api: LocalBotApi, anna: int) -> None:
    api.faults.storm_429(2, retry_after=7)
    for _ in range(2):
        with pytest.raises(RetryAfter) as info:
            await bot.send_message(anna, "x")
        assert "7" in str(info.value)
    await bot.get_me()  # not a sending method: untouched
    await bot.send_message(anna, "storm over")


async def test_429_storm_for_a_period(bot, api: LocalBotApi, anna: int, clock: FakeClock) -> None:
    api.faults.storm_429(duration=10, retry_after=3)
    for _ in range(3):
        with pytest.raises(RetryAfter):
            await bot.send_message(anna, "x")
    clock.advance(10)
    await bot.send_message(anna, "over")


@pytest.mark.parametrize(("status", "text"), [(500, "Internal Server Error"),
                                              (502, "Bad Gateway")])
async def test_server_errors(bot, api: LocalBotApi, anna: int, status: int, text: str) -> None:
    api.faults.server_errors(1, status=status, methods=["sendMessage"])
    with pytest.raises(NetworkError, match=text):
        await bot.send_message(anna, "x")
    assert api.calls[-1].error_code == status
    await bot.send_message(anna, "recovered")


async def test_slow_answer_times_out(api: LocalBotApi, anna: int) -> None:
    async with make_bot(api, read_timeout=0.05) as bot:
        api.faults.slow(1, delay=0.5, methods=["sendMessage"])
        with pytest.raises(TimedOut):
            await bot.send_message(anna, "slow")
        assert (await bot.send_message(anna, "fast again")).text == "fast again"


async def test_dropped_connection(bot, api: LocalBotApi, anna: int) -> None:
    api.faults.drop(1, methods=["sendMessage"])
    with pytest.raises(NetworkError):
        await bot.send_message(anna, "lost")
    assert api.last_message_to(anna) is None  # nothing was sent
    sent = await bot.send_message(anna, "after the drop")
    assert sent.text == "after the drop"


async def test_faults_restricted_to_methods_and_cleared(bot, api: LocalBotApi) -> None:
    api.faults.server_errors(5, methods=["sendPhoto"])
    await bot.get_me()
    api.faults.clear()
    assert api.faults.faults == []
