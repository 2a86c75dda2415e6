"""Delivery fixtures: a frozen clock and the real bot against the local Bot API."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import FrozenClock
from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("MESTRING_"):
            monkeypatch.delenv(key)
    return Settings(data_dir=tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def sandbox(settings: Settings, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[Sandbox]:
    async with open_sandbox(
        settings=settings, database_url=f"sqlite:///{tmp_path / 'delivery.sqlite3'}", clock=clock
    ) as running:
        yield running
