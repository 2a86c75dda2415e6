"""LocalBotApi: the server's lifecycle plus the simulation API, in one object for tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.local_api.control import add_control_routes
from bot.local_api.faults import FaultPlan
from bot.local_api.limits import Limits, RateLimiter
from bot.local_api.methods import BotApiMethods
from bot.local_api.server import MAX_REQUEST_BYTES, BotApiHttp
from bot.local_api.simulation import Simulation
from bot.local_api.state import ApiCall, BotInfo, CallbackQueryRecord, State
from bot.local_api.webhooks import WebhookDelivery

DEMO_TOKEN = "123456789:LOCAL-mestringDemoTokenNotValidOnTelegram"  # noqa: S105 - a public placeholder, not a secret
DEMO_BOT_USERNAME = "mestring_demo_bot"


class LocalBotApi(Simulation):
    """A strict local Bot API server on loopback with simulated users.

    Configure PTB with ``base_url=f"{api.base_url}/bot"`` and
    ``base_file_url=f"{api.base_url}/file/bot"``.
    """

    def __init__(
        self,
        token: str = DEMO_TOKEN,
        *,
        bot_username: str = DEMO_BOT_USERNAME,
        bot_id: int | None = None,
        bot_name: str = "Mestring",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        limits: Limits | None = None,
    ) -> None:
        if bot_id is None:
            head = token.split(":", 1)[0]
            bot_id = int(head) if head.isdigit() else 123456789
        state = State(BotInfo(bot_id, bot_name, bot_username), clock=clock,
                      wall_clock=wall_clock)
        super().__init__(state)
        self.token = token
        self.limiter = RateLimiter(limits or Limits(), clock)
        self.faults = FaultPlan(clock)
        self.methods = BotApiMethods(state, self.limiter)
        self.http = BotApiHttp(token, state, self.methods, self.faults)
        # POSTs pending updates while a webhook is set (setWebhook), as Telegram does.
        self.webhooks = WebhookDelivery(state)
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        self.http.add_routes(app)
        add_control_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Start serving; returns the root URL (also ``base_url``)."""
        if self._runner is not None:
            raise RuntimeError("LocalBotApi is already running")
        self.methods.closing = False
        runner = web.AppRunner(self.make_app(), access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self.webhooks.start()
        sockets = runner.addresses
        bound_host, bound_port = sockets[0][0], sockets[0][1]
        self._base_url = f"http://{bound_host}:{bound_port}"
        return self._base_url

    async def stop(self) -> None:
        if self._runner is None:
            return
        # Wake long polls so shutdown does not wait for their timeouts.
        self.methods.wake_pollers()
        runner, self._runner = self._runner, None
        await self.webhooks.stop()
        await runner.cleanup()

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("LocalBotApi is not started")
        return self._base_url

    @property
    def bot_api_url(self) -> str:
        """PTB's ``base_url``."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """PTB's ``base_file_url``."""
        return f"{self.base_url}/file/bot"

    # A plain timeout argument reads better in tests than wrapping every call in a scope.
    async def wait_for_poller(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until a getUpdates call is parked in a long poll (the bot is listening)."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self.state.changed_event()
                if self.methods.waiting_polls > 0:
                    return
                await changed.wait()

    # -- configuration and records -----------------------------------------------------------
    @property
    def limits(self) -> Limits:
        return self.limiter.limits

    def set_limits(self, limits: Limits) -> None:
        """Replace the flood limits (and forget what was counted so far)."""
        self.limiter.reset(limits)

    @property
    def calls(self) -> list[ApiCall]:
        """Every API call, in order, with its outcome."""
        return self.state.calls

    def calls_to(self, method: str) -> list[ApiCall]:
        return [c for c in self.state.calls if c.method.lower() == method.lower()]

    @property
    def callback_answers(self) -> list[CallbackQueryRecord]:
        return [q for q in self.state.callback_queries.values() if q.answered]

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The registered commands for a scope (default scope if None) and language."""
        key = (scope or {"type": "default"})["type"]
        if scope and "chat_id" in scope:
            key += f":{scope['chat_id']}"
        if scope and "user_id" in scope:
            key += f":{scope['user_id']}"
        return list(self.state.commands.get((key, language_code), []))
