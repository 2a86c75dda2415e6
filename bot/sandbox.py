"""A complete local world: the local Bot API, the real bot on a database, and simulated people.

Used by ``mestring demo``, the end-to-end tests and the benchmarks, so all three exercise the
same wiring as production, with only the Bot API server swapped for our own.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot.app import BotApiEndpoint, build_application
from bot.clock import Clock, SystemClock
from bot.context import Services
from bot.delivery.config import DeliveryConfig
from bot.delivery.service import DeliveryService
from bot.delivery.telegram_sender import PtbSender, make_bot
from bot.i18n import Catalogs
from bot.local_api import LocalBotApi
from bot.settings import Settings
from bot.updates import ChatOrderedUpdateProcessor
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_async

# A person reads and taps in seconds, not microseconds. Simulated people act at that pace for
# Telegram's per-chat flood control, so a test's instant taps don't each wait out a 429.
HUMAN_PAUSE_SECONDS = 2.0


class HumanPace:
    """The local Bot API's clock: real time plus the pauses simulated people took."""

    def __init__(self) -> None:
        self._offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self._offset

    def pause(self, seconds: float = HUMAN_PAUSE_SECONDS) -> None:
        self._offset += seconds


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

    def _pause(self) -> None:
        if self.pace is not None:
            self.pace.pause()

    async def send_text(self, user_id: int, text: str) -> None:
        """A simulated person writes; returns once the bot has handled it."""
        self._pause()
        await self.processor.wait_handled(self.api.send_text(user_id, text))

    async def press(self, user_id: int, label: str, *, message_id: int | None = None) -> None:
        """A simulated person taps the button with this visible text."""
        self._pause()
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
    engine = None
    application = None
    outbox_bot = None
    try:
        await upgrade_async(database_url)
        engine = create_engine(database_url)
        services = Services(
            settings=settings,
            sessions=create_sessionmaker(engine),
            catalogs=Catalogs.load(),
            clock=clock or SystemClock(),
        )
        processor = ChatOrderedUpdateProcessor()
        application = build_application(
            services, BotApiEndpoint(api.base_url, api.token), processor=processor
        )
        await application.initialize()
        if application.post_init is not None:
            # run_polling() would call post_init; starting by hand, we do.
            await application.post_init(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(
            poll_interval=0, timeout=5, allowed_updates=Update.ALL_TYPES
        )
        endpoint = BotApiEndpoint(api.base_url, api.token)
        outbox_bot = make_bot(endpoint.token, endpoint.base_url, endpoint.base_file_url)
        delivery = DeliveryService.build(
            sessions=services.sessions, catalogs=services.catalogs, clock=services.clock,
            sender=PtbSender(outbox_bot), default_locale=settings.default_locale,
            config=delivery_config or DeliveryConfig(send_rate_per_second=None),
        )
        yield Sandbox(api, application, processor, services, engine, pace, delivery)
    finally:
        if outbox_bot is not None:
            await outbox_bot.shutdown()
        if application is not None:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
        if engine is not None:
            await engine.dispose()
        if owns_api:
            await api.stop()
