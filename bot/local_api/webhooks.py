"""Webhook delivery, as Telegram does it: POST each update to the webhook URL until answered 2xx.

While a webhook is set, every pending update is POSTed as JSON with the secret in
``X-Telegram-Bot-Api-Secret-Token``; a 2xx answer acknowledges it (it is never sent again),
anything else — another status, a refused connection, a timeout — is tried again after a
growing pause. At most ``max_connections`` requests are in flight, and a chat's next update
waits until its previous one is acknowledged (Telegram's open-source Bot API server keeps one
queue per chat the same way), so a bot sees each chat's updates in order even across workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot.local_api.state import State, Update

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
REQUEST_TIMEOUT_SECONDS = 30.0
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 2.0


def queue_key(update: Update) -> object:
    """Which queue an update waits in: its chat's, else its sender's, else its own."""
    payload = update.payload
    for holder in (payload, payload.get("message") or {}):
        chat = holder.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
    sender = payload.get("from")
    if isinstance(sender, dict) and "id" in sender:
        return sender["id"]
    return ("update", update.update_id)


class WebhookDelivery:
    """Runs beside the HTTP server of a :class:`~bot.local_api.app.LocalBotApi`."""

    def __init__(
        self, state: State, *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        first_backoff: float = FIRST_BACKOFF_SECONDS, max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.state = state
        self.sleep = sleep
        self.first_backoff = first_backoff
        self.max_backoff = max_backoff
        self.delivered = 0  # updates acknowledged with a 2xx
        self.failed_attempts = 0  # POSTs that were not acknowledged
        self._in_flight: dict[int, object] = {}  # update_id -> queue key
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def start(self) -> None:
        self._http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS))
        self._loop_task = asyncio.create_task(self._run(), name="local-api-webhooks")

    async def stop(self) -> None:
        tasks = [t for t in (self._loop_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None
        self._tasks.clear()
        self._in_flight.clear()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _run(self) -> None:
        while True:
            changed = self.state.changed_event()
            self._start_deliveries()
            await changed.wait()

    def _start_deliveries(self) -> None:
        webhook = self.state.webhook
        if not webhook.url:
            return
        busy = set(self._in_flight.values())
        for update in list(self.state.updates):
            if len(self._in_flight) >= max(1, int(webhook.max_connections)):
                return
            key = queue_key(update)
            if update.update_id in self._in_flight or key in busy:
                continue
            busy.add(key)
            self._in_flight[update.update_id] = key
            task = asyncio.create_task(self._deliver(update, webhook.url, webhook.secret_token))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, update: Update, url: str, secret: str | None) -> None:
        attempt = 0
        try:
            while True:
                attempt += 1
                if await self._post(update, url, secret):
                    self.delivered += 1
                    with contextlib.suppress(ValueError):
                        self.state.updates.remove(update)
                    return
                self.failed_attempts += 1
                await self.sleep(min(self.max_backoff, self.first_backoff * 2 ** (attempt - 1)))
                # Deleted or replaced meanwhile (drop_pending_updates): nothing more to send.
                if update not in self.state.updates or self.state.webhook.url != url:
                    return
        finally:
            self._in_flight.pop(update.update_id, None)
            self.state.notify()

    async def _post(self, update: Update, url: str, secret: str | None) -> bool:
        assert self._http is not None
        headers = {SECRET_HEADER: secret} if secret else {}
        body: dict[str, Any] = update.to_telegram()
        try:
            async with self._http.post(url, json=body, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return True
                self._failed(f"Wrong response from the webhook: {response.status} "
                             f"{response.reason or ''}".rstrip())
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._failed(f"Connection error: {type(exc).__name__}")
        return False

    def _failed(self, message: str) -> None:
        self.state.webhook.last_error_date = self.state.now_date()
        self.state.webhook.last_error_message = message
