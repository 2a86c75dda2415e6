"""A complete local world: the local Bot API, the real bot on a database, and simulated people.

Used by ``mestring demo``, the end-to-end tests and the benchmarks, so all three exercise the
same wiring as production, with only the Bot API server swapped for our own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import Application

from bot.app import BotApiEndpoint, build_application
from bot.clock import Clock, SystemClock
from bot.context import Services
from bot.i18n import Catalogs
from bot.local_api import LocalBotApi
from bot.settings import Settings
from bot.updates import ChatOrderedUpdateProcessor
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade_async


@dataclass
class Sandbox:
    api: LocalBotApi
    application: Application  # type: ignore[type-arg]
    processor: ChatOrderedUpdateProcessor
    services: Services
    engine: AsyncEngine

    async def send_text(self, user_id: int, text: str) -> None:
        """A simulated person writes; returns once the bot has handled it."""
        await self.processor.wait_handled(self.api.send_text(user_id, text))

    async def press(self, user_id: int, label: str, *, message_id: int | None = None) -> None:
        """A simulated person taps the button with this visible text."""
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
) -> AsyncIterator[Sandbox]:
    api = api or LocalBotApi()
    await api.start()
    engine = None
    application = None
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
        yield Sandbox(api, application, processor, services, engine)
    finally:
        if application is not None:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
        if engine is not None:
            await engine.dispose()
        await api.stop()
