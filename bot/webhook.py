"""Receiving updates by webhook: an aiohttp server in front of the PTB ``Application``.

Telegram posts every update to the URL given to ``setWebhook`` with the secret we gave it in the
``X-Telegram-Bot-Api-Secret-Token`` header. A request without the right header is refused with
403 before its body is read: anyone who can reach the URL could otherwise post updates in
another person's name (their numeric ID is enough) and get their data back. ``GET /healthz``
says only whether this worker is serving, for the reverse proxy.

A custom server (as in PTB's ``customwebhookbot`` example) rather than ``run_webhook``, because
the proxy needs the health route next to the webhook.
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


def webhook_app(application: Application, secret: str, url_path: str) -> web.Application:  # type: ignore[type-arg]
    expected = secret.encode()

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
        if update is None:
            return web.Response(status=400)
        await application.update_queue.put(update)
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
    runner = web.AppRunner(webhook_app(application, config.secret, config.url_path),
                           access_log=None)
    try:
        await application.bot.set_webhook(
            url=config.public_url, secret_token=config.secret,
            allowed_updates=Update.ALL_TYPES,
        )
        await application.start()
        await runner.setup()
        await web.TCPSite(runner, config.listen, config.port).start()
        log.info("webhook serving port=%d path=/%s", config.port, config.url_path.strip("/"))
        await stop.wait()
    finally:
        await runner.cleanup()
        if application.running:
            await application.stop()
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
