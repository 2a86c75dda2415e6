"""A bare delivery world: a database, the local Bot API, and a dispatcher — no Application.

For the bulk tests (fault injection, several workers), where only the outbox talks to Telegram.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Bot

from bot.delivery.dispatcher import Dispatcher
from bot.delivery.telegram_sender import PtbSender, make_bot
from bot.local_api import LocalBotApi
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from dialogs.outbox_render import Renderer
from locales.i18n import Catalogs
from storage import queries
from storage.clock import Clock
from storage.engine import create_engine, create_sessionmaker
from tests.delivery.helpers import add_members, make_team

_CATALOGS: Catalogs | None = None


def catalogs() -> Catalogs:
    global _CATALOGS  # compiled once per test session: it is immutable
    if _CATALOGS is None:
        _CATALOGS = Catalogs.load()
    return _CATALOGS


@dataclass
class World:
    api: LocalBotApi
    sessions: async_sessionmaker[AsyncSession]
    _bots: list[Bot] = field(default_factory=list)

    def dispatcher(self, clock: Clock, config: DeliveryConfig, *, worker: str,
                   timeout: float = 5.0) -> Dispatcher:
        bot = make_bot(self.api.token, self.api.bot_api_url, self.api.file_url,
                       connections=config.concurrency + 2, timeout=timeout)
        self._bots.append(bot)
        return Dispatcher(self.sessions, PtbSender(bot, timeout=timeout),
                          Renderer(catalogs(), "da"), clock, config, worker=worker)

    def sends_per_chat(self) -> Counter[int]:
        return Counter(int(c.params["chat_id"]) for c in self.api.calls_to("sendMessage")
                       if c.ok)


@asynccontextmanager
async def open_world(database_url: str, api: LocalBotApi) -> AsyncIterator[World]:
    engine = create_engine(database_url)
    world = World(api, create_sessionmaker(engine))
    await api.start()
    try:
        yield world
    finally:
        for bot in world._bots:
            await bot.shutdown()
        await api.stop()
        await engine.dispose()


async def fan_out(
    sessions: async_sessionmaker[AsyncSession], user_ids: Sequence[int], now: datetime,
    *, timezone: str = "Europe/Copenhagen",
) -> None:
    """One team with these participants and one due webinar reminder for each."""
    async with sessions.begin() as session:
        team = await make_team(session, name=f"Fan {len(user_ids)}", timezone=timezone)
        members = await add_members(session, team, user_ids, joined_at=now - timedelta(days=1))
        first = (await queries.team_sessions(session, team.id))[0]
        await outbox.add_rows(session, [
            outbox.NewRow(
                person_id=m.person_id, chat_id=m.user_id, kind=Kind.WEBINAR_REMINDER,
                dedup_key=f"fan:{m.membership_id}", due_at=now, expires_at=first.starts_at,
                payload={"membership_id": m.membership_id, "module_no": 1,
                         "webinar_id": first.id, "starts_at": first.starts_at.isoformat(),
                         "offset_minutes": 1440},
            )
            for m in members
        ], now)
