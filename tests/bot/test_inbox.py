"""The webhook acknowledges an update only once it is committed to the inbox, and a worker's
pump handles it from there: through the same Application, flood guard and per-chat order."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inbox import InboxPump
from bot.local_api import LocalBotApi
from bot.sandbox import open_sandbox
from bot.settings import Settings
from bot.webhook import SECRET_HEADER, webhook_app
from storage.clock import FrozenClock
from storage.models import InboxUpdate

SECRET = "inbox-test-secret-" + "x" * 20
ANNA = 5550202


def _update_from(api: LocalBotApi, user_id: int, text: str) -> dict[str, Any]:
    """What Telegram would post for this person's message (taken before the poller sees it)."""
    update_id = api.send_text(user_id, text)
    (update,) = [u for u in api.state.updates if u.update_id == update_id]
    api.state.updates.remove(update)
    return update.to_telegram()


async def test_an_update_is_recorded_before_it_is_acknowledged_and_handled_once(
    settings: Settings, clock: FrozenClock, db_url: str, tmp_path: Path,
) -> None:
    async with open_sandbox(settings=settings, database_url=db_url, clock=clock) as sandbox:
        sandbox.api.add_user(ANNA, "Anna", language_code="da")
        services = sandbox.services
        pump = InboxPump(sandbox.application, services.sessions, services.clock)
        async with TestClient(TestServer(
                webhook_app(sandbox.application, SECRET, "telegram", pump))) as http:
            update = _update_from(sandbox.api, ANNA, "/help")
            for _ in range(2):  # Telegram sends it again when our 200 got lost
                response = await http.post("/telegram", json=update,
                                           headers={SECRET_HEADER: SECRET})
                assert response.status == 200
            async with services.sessions() as session:
                rows = list(await session.scalars(select(InboxUpdate)))
            # Durable before the 200, and not handled in memory behind the inbox's back.
            assert [(r.update_id, r.chat_key, r.payload) for r in rows] == [
                (update["update_id"], ANNA, update)]
            assert sandbox.api.messages_to(ANNA) == []

            pump.start()
            try:
                await sandbox.processor.wait_handled(update["update_id"])
                reply = await sandbox.api.wait_for_message(ANNA, timeout=15)
            finally:
                await pump.stop()
        async with services.sessions() as session:
            (row,) = list(await session.scalars(select(InboxUpdate)))
        assert row.handled_at == clock.now()
        assert row.payload is None  # what Anna wrote is gone once handled
    assert "112" in (reply.text or "")
    assert len(sandbox.api.messages_to(ANNA)) == 1


class _DatabaseDown:
    """The sandbox's sessions with the database down for the first ``looks`` transactions."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], looks: int) -> None:
        self.sessions = sessions
        self.left = looks
        self.back = asyncio.Event()

    def __call__(self) -> AsyncSession:
        return self.sessions()

    def begin(self) -> Any:
        if self.left > 0:
            self.left -= 1
            raise OperationalError("SELECT 1", {}, Exception("database is down"))
        self.back.set()
        return self.sessions.begin()


async def test_a_pump_waits_out_a_database_outage_quietly_and_answers_when_it_is_back(
    settings: Settings, clock: FrozenClock, db_url: str, caplog: pytest.LogCaptureFixture,
) -> None:
    """Twenty failed looks: one traceback, a line at each doubling (2, 4, 8, 16), one line when
    it recovers — not a traceback twice a second — and the next message is answered."""
    async with open_sandbox(settings=settings, database_url=db_url, clock=clock) as sandbox:
        sandbox.api.add_user(ANNA, "Anna", language_code="da")
        services = sandbox.services
        down = _DatabaseDown(services.sessions, looks=20)
        pump = InboxPump(sandbox.application, down, services.clock,  # type: ignore[arg-type]
                         poll_seconds=0.001, backoff_max=timedelta(milliseconds=20))
        async with TestClient(TestServer(
                webhook_app(sandbox.application, SECRET, "telegram", pump))) as http:
            with caplog.at_level(logging.INFO, logger="bot.inbox"):
                pump.start()
                try:
                    await asyncio.wait_for(down.back.wait(), timeout=30)
                    update = _update_from(sandbox.api, ANNA, "/help")
                    response = await http.post("/telegram", json=update,
                                               headers={SECRET_HEADER: SECRET})
                    assert response.status == 200
                    reply = await sandbox.api.wait_for_message(ANNA, timeout=15)
                finally:
                    await pump.stop()
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None)
             for r in caplog.records if r.name == "bot.inbox" and "claim" in r.getMessage()]
    assert lines == [
        ("ERROR", "inbox claim failed", True),
        *[("WARNING", f"inbox claim still failing failures={n} error=OperationalError", False)
          for n in (2, 4, 8, 16)],
        ("WARNING", "inbox claim recovered failures=20", False),
    ]
    assert "112" in (reply.text or "")
