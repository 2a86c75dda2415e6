"""The webhook acknowledges an update only once it is committed to the inbox, and a worker's
pump handles it from there: through the same Application, flood guard and per-chat order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

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
