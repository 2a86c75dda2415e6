"""Webhook delivery by the local Bot API, as Telegram does it: each update POSTed as JSON with
the secret header until a 2xx, never more than ``max_connections`` at once, a chat's updates
one after the other; getUpdates refused while a webhook is set."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import Conflict

from bot.local_api import LocalBotApi

SECRET = "s" * 40
ANNA, BO, CARL = 2001, 2002, 2003


@dataclass
class Receiver:
    """A bot's webhook endpoint that answers as told and remembers what it got."""

    url: str = ""
    got: asyncio.Queue[tuple[dict[str, Any], str | None]] = field(
        default_factory=asyncio.Queue)
    statuses: list[int] = field(default_factory=list)  # answers to give first, then 200
    hold: asyncio.Event | None = None  # answer only once set
    in_flight: int = 0
    most_in_flight: int = 0
    entered: asyncio.Queue[int] = field(default_factory=asyncio.Queue)  # update ids arriving

    async def handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            body = json.loads(await request.text())
            await self.entered.put(body["update_id"])
            secret = request.headers.get("X-Telegram-Bot-Api-Secret-Token")
            if self.hold is not None:
                await self.hold.wait()
            status = self.statuses.pop(0) if self.statuses else 200
            if status == 200:
                await self.got.put((body, secret))
            return web.Response(status=status)
        finally:
            self.in_flight -= 1

    async def next(self) -> tuple[dict[str, Any], str | None]:
        return await asyncio.wait_for(self.got.get(), 10)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    found.url = f"http://{host}:{port}/hook"
    yield found
    await runner.cleanup()


class Pauses(list[float]):
    """The pauses between attempts, taken at once (no wall-clock waiting in tests)."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: asyncio.Queue[float] = asyncio.Queue()

    async def sleep(self, seconds: float) -> None:
        self.append(seconds)
        await self.taken.put(seconds)


@pytest.fixture
def pauses(api: LocalBotApi) -> Pauses:
    taken = Pauses()
    api.webhooks.sleep = taken.sleep
    return taken


async def test_updates_are_posted_with_the_secret_and_getupdates_is_refused(
    api: LocalBotApi, bot: Bot, receiver: Receiver,
) -> None:
    api.add_user(ANNA, "Anna")
    assert await bot.set_webhook(receiver.url, secret_token=SECRET, max_connections=5)
    with pytest.raises(Conflict) as refused:
        await bot.get_updates()
    assert api.calls_to("getUpdates")[-1].description == (
        "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
        "delete the webhook first")
    assert "webhook is active" in str(refused.value)
    update_id = api.send_text(ANNA, "hej")
    body, secret = await receiver.next()
    assert secret == SECRET
    assert body["update_id"] == update_id
    assert body["message"]["text"] == "hej"
    assert body["message"]["chat"]["id"] == ANNA
    info = await bot.get_webhook_info()
    assert (info.url, info.max_connections, info.pending_update_count) == (receiver.url, 5, 0)
    assert info.last_error_date is None

    assert await bot.delete_webhook()
    later = api.send_text(ANNA, "igen")
    assert [u.update_id for u in await bot.get_updates()] == [later]
    assert (await bot.get_webhook_info()).url == ""


async def test_a_refused_or_unreachable_webhook_gets_the_update_again_with_growing_pauses(
    api: LocalBotApi, bot: Bot, receiver: Receiver, pauses: Pauses,
) -> None:
    api.add_user(ANNA, "Anna")
    receiver.statuses = [500, 502, 403]
    await bot.set_webhook(receiver.url, secret_token=SECRET)
    update_id = api.send_text(ANNA, "hej")
    body, _ = await receiver.next()
    assert body["update_id"] == update_id
    assert len(pauses) == 3
    assert pauses == sorted(pauses)
    assert pauses[0] < pauses[-1]
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 403 Forbidden"
    assert info.pending_update_count == 0
    assert receiver.got.empty()  # delivered once: a 2xx is never sent again

    # Nobody listening at all: tried again until somebody is.
    dead = receiver.url.replace("/hook", "/nothing-here")
    await bot.set_webhook(dead.replace(dead.split("/")[2], "127.0.0.1:9"))
    api.send_text(ANNA, "ingen lytter")
    for _ in range(3 + 2):  # the three pauses above, and two failed attempts here
        await asyncio.wait_for(pauses.taken.get(), 10)
    info = await bot.get_webhook_info()
    assert info.last_error_message is not None
    assert info.last_error_message.startswith("Connection error")
    assert info.pending_update_count == 1
    await bot.set_webhook(receiver.url, secret_token=SECRET)
    body, _ = await receiver.next()
    assert body["message"]["text"] == "ingen lytter"


async def test_at_most_max_connections_at_once_and_a_chats_updates_in_order(
    api: LocalBotApi, bot: Bot, receiver: Receiver,
) -> None:
    for user in (ANNA, BO, CARL):
        api.add_user(user, str(user))
    receiver.hold = asyncio.Event()
    await bot.set_webhook(receiver.url, max_connections=2)
    sent = {user: [api.send_text(user, f"{user} {n}") for n in range(3)]
            for user in (ANNA, BO, CARL)}
    first_two = {await asyncio.wait_for(receiver.entered.get(), 10) for _ in range(2)}
    assert first_two == {sent[ANNA][0], sent[BO][0]}
    assert receiver.entered.empty()
    assert api.webhooks.in_flight == 2
    receiver.hold.set()
    got: dict[int, list[int]] = {user: [] for user in sent}
    for _ in range(9):
        body, _ = await receiver.next()
        got[body["message"]["chat"]["id"]].append(body["update_id"])
    assert got == sent
    assert receiver.most_in_flight == 2


async def test_drop_pending_updates_forgets_what_was_waiting(
    api: LocalBotApi, bot: Bot, receiver: Receiver,
) -> None:
    api.add_user(ANNA, "Anna")
    api.send_text(ANNA, "gammel")
    await bot.set_webhook(receiver.url, drop_pending_updates=True)
    fresh = api.send_text(ANNA, "ny")
    body, _ = await receiver.next()
    assert body["update_id"] == fresh
    with pytest.raises(Exception, match="max_connections"):
        await bot.set_webhook(receiver.url, max_connections=101)
