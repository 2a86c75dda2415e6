from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.local_api import Limits, LocalBotApi


@dataclass
class FakeClock:
    """Monotonic seconds that move only when a test says so."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def api(clock: FakeClock) -> AsyncIterator[LocalBotApi]:
    """A server on a fake clock with flood control off (rate-limit tests switch it on)."""
    async with LocalBotApi(clock=clock, limits=Limits.disabled()) as server:
        yield server


def make_bot(api: LocalBotApi, *, read_timeout: float = 5.0) -> Bot:
    request = HTTPXRequest(read_timeout=read_timeout, connect_timeout=2.0)
    return Bot(
        api.token,
        base_url=api.bot_api_url,
        base_file_url=api.file_url,
        request=request,
        get_updates_request=HTTPXRequest(read_timeout=read_timeout),
    )


@pytest.fixture
async def bot(api: LocalBotApi) -> AsyncIterator[Bot]:
    async with make_bot(api) as ptb_bot:
        yield ptb_bot


@pytest.fixture
def anna(api: LocalBotApi) -> int:
    """A participant who has started the bot."""
    api.add_user(1001, "Anna", username="anna", language_code="da")
    api.send_text(1001, "/start")
    return 1001
