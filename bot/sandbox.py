"""A complete local world: the local Bot API, the real bot on a database, and simulated people.

Used by ``mestring demo``, the end-to-end tests and the benchmarks, so all three exercise the
same wiring as production, with only the Bot API server swapped for our own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot.app import BotApiEndpoint, build_runtime
from bot.context import Services
from bot.delivery.service import DeliveryService
from bot.local_api import LocalBotApi
from bot.settings import Settings
from bot.timing import Timing
from bot.updates import ChatOrderedUpdateProcessor
from dialogs.delivery.config import DeliveryConfig
from storage.clock import Clock
from storage.migrate import upgrade_async

# A person reads and taps in seconds, not microseconds. Simulated people act at that pace for
# Telegram's per-chat flood control, so a test's instant taps don't each wait out a 429.
HUMAN_PAUSE_SECONDS = 2.0


class HumanPace:
    """The local Bot API's clock: real time plus the pauses simulated people took."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._last_act: dict[int, float] = {}

    def __call__(self) -> float:
        return time.monotonic() + self._offset

    def pause(self, seconds: float = HUMAN_PAUSE_SECONDS) -> None:
        """Time passes for everyone (a test skipping ahead)."""
        self._offset += seconds

    def act(self, user_id: int, seconds: float = HUMAN_PAUSE_SECONDS) -> None:
        """A person acts at a human pace: at least ``seconds`` after their own last act.

        People act side by side, so their pauses overlap: thirty people tapping together
        move the clock by one pause, not thirty (which would age the first one's button
        past Telegram's answer window while they wait)."""
        due = self._last_act.get(user_id, float("-inf")) + seconds
        if self() < due:
            self._offset += due - self()
        self._last_act[user_id] = self()

    async def sleep(self, seconds: float) -> None:
        """Wait on this clock: the time passes at once, for the bot and the local Bot API.

        Waits that overlap pass together, as they would in real time: ten replies each
        waiting one second move the clock by one second, not ten."""
        until = self() + seconds
        await asyncio.sleep(0)
        self._offset += max(0.0, until - self())


@dataclass
class Sandbox:
    api: LocalBotApi
    application: Application  # type: ignore[type-arg]
    processor: ChatOrderedUpdateProcessor
    services: Services
    engine: AsyncEngine
    pace: HumanPace | None = None
    # The outbox, driven by the test: `await sandbox.delivery.run_once()` (no scheduler runs).
    delivery: DeliveryService | None = None

    def _pause(self, user_id: int) -> None:
        if self.pace is not None:
            self.pace.act(user_id)

    async def send_text(self, user_id: int, text: str) -> None:
        """A simulated person writes; returns once the bot has handled it."""
        self._pause(user_id)
        await self.processor.wait_handled(self.api.send_text(user_id, text))

    async def press(self, user_id: int, label: str, *, message_id: int | None = None) -> None:
        """A simulated person taps the button with this visible text."""
        self._pause(user_id)
        update_id = self.api.press_button_by_text(user_id, label, message_id=message_id)
        await self.processor.wait_handled(update_id)

    async def handled(self, update_id: int) -> None:
        await self.processor.wait_handled(update_id)


@asynccontextmanager
async def open_sandbox(
    *,
    settings: Settings,
    database_url: str,
    clock: Clock | None = None,
    api: LocalBotApi | None = None,
    pace: HumanPace | None = None,
    delivery_config: DeliveryConfig | None = None,
) -> AsyncIterator[Sandbox]:
    """The bot on ``database_url`` against ``api`` (or a fresh local server it owns).

    A caller that brings its own server passes the :class:`HumanPace` the server runs on.
    """
    # A server passed in belongs to the caller: it outlives this bot (a restart test).
    owns_api = api is None
    if owns_api:
        pace = HumanPace()
        api = LocalBotApi(clock=pace)
    assert api is not None
    if owns_api:
        await api.start()
    runtime = None
    try:
        await upgrade_async(database_url)
        runtime = build_runtime(
            settings, BotApiEndpoint(api.base_url, api.token), database_url=database_url,
            clock=clock,
            delivery_config=delivery_config or DeliveryConfig(send_rate_per_second=None),
            scheduled=False,
            # Flood guard and 429 waits on the simulated people's clock, like the server's.
            timing=Timing(pace, pace.sleep) if pace is not None else None,
        )
        application = runtime.application
        await application.initialize()
        if application.post_init is not None:
            # run_polling() would call post_init; starting by hand, we do.
            await application.post_init(application)
            # Tests look at the menus; the start's background work is done before them.
            await asyncio.gather(*runtime.background)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0, timeout=5, allowed_updates=Update.ALL_TYPES
        )
        yield Sandbox(api, application, runtime.processor, runtime.services, runtime.engine,
                      pace, runtime.delivery)
    finally:
        if runtime is not None:
            application = runtime.application
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
            if application.post_shutdown is not None:
                # …and post_shutdown, which closes the outbox's Bot and the engine.
                await application.post_shutdown(application)
        if owns_api:
            await api.stop()
