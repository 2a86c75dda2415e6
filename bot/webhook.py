"""Receiving updates by webhook: an aiohttp server in front of the PTB ``Application``.

Telegram posts every update to the URL given to ``setWebhook`` with the secret we gave it in the
``X-Telegram-Bot-Api-Secret-Token`` header. A request without the right header is refused with
403 before its body is read: anyone who can reach the URL could otherwise post updates in
another person's name (their numeric ID is enough) and get their data back. ``GET /healthz``
says only whether this worker is serving, for the reverse proxy.

A custom server (as in PTB's ``customwebhookbot`` example) rather than ``run_webhook``, because
the proxy needs the health route next to the webhook, and because an update is acknowledged
only once it is committed to the inbox (bot/inbox.py): Telegram never resends an update it got
200 for, so a worker killed right after answering must not have held it only in memory. Any
worker's :class:`bot.inbox.InboxPump` then handles it, in its chat's order.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from dataclasses import dataclass

from aiohttp import web
from telegram import Update
from telegram.ext import Application

from bot.context import Services
from bot.inbox import InboxPump, record

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)
HEALTH_PATH = "/healthz"
# Telegram's updates are small; a larger body is not from Telegram.
MAX_UPDATE_BYTES = 1 << 20


@dataclass(frozen=True)
class WebhookConfig:
    listen: str
    port: int
    url_path: str
    public_url: str
    secret: str


def webhook_app(
    application: Application,  # type: ignore[type-arg]
    secret: str, url_path: str, pump: InboxPump,
) -> web.Application:
    expected = secret.encode()
    services: Services = application.bot_data.services

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            log.warning("webhook_refused reason=secret")
            return web.Response(status=403)
        try:
            data = await request.json(loads=json.loads)
            update = Update.de_json(data, application.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400)
        if update is None or not isinstance(data, dict):
            return web.Response(status=400)
        try:
            await record(services.sessions, services.clock, update, data)
        except Exception:
            # Not recorded: a non-2xx makes Telegram send it again later.
            log.exception("webhook_unrecorded update_id=%d", update.update_id)
            return web.Response(status=503)
        pump.wake()
        return web.Response(status=200)

    async def health(_: web.Request) -> web.Response:
        return web.Response(status=200 if application.running else 503, text="")

    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app.router.add_post("/" + url_path.strip("/"), receive)
    app.router.add_get(HEALTH_PATH, health)
    return app


async def serve(application: Application, config: WebhookConfig) -> None:  # type: ignore[type-arg]
    """Serve until SIGINT or SIGTERM: set the webhook (with its secret), receive, shut down."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    services: Services = application.bot_data.services
    pump = InboxPump(application, services.sessions, services.clock)
    runner = web.AppRunner(webhook_app(application, config.secret, config.url_path, pump),
                           access_log=None)
    try:
        await application.bot.set_webhook(
            url=config.public_url, secret_token=config.secret,
            allowed_updates=Update.ALL_TYPES,
        )
        await application.start()
        pump.start()
        await runner.setup()
        await web.TCPSite(runner, config.listen, config.port).start()
        log.info("webhook serving port=%d path=/%s", config.port, config.url_path.strip("/"))
        await stop.wait()
    finally:
        await runner.cleanup()  # stop receiving first: what is recorded is safe
        await pump.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
