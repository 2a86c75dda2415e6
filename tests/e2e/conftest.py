"""End-to-end fixtures: the shared sandbox (tests/conftest.py) with the demo team seeded."""

from __future__ import annotations

import pytest

from bot.demo import seed_demo
from bot.sandbox import Sandbox
from storage.clock import FrozenClock


@pytest.fixture
async def sandbox(sandbox: Sandbox, clock: FrozenClock) -> Sandbox:
    await seed_demo(sandbox.services.sessions, clock)
    return sandbox
