"""Serving real Telegram: migrate, wire, and run polling or a webhook until stopped."""

from __future__ import annotations

import asyncio
import logging

from telegram import Update
from telegram.error import InvalidToken, NetworkError

from bot import errors, logs
from bot.app import BotApiEndpoint, build_runtime
from bot.collector import startup_frozen
from bot.settings import Settings, SettingsError
from storage.migrate import upgrade_if_behind

log = logging.getLogger(__name__)

WEBHOOK_PATH = "telegram"


def run_bot(
    settings: Settings,
    token: str,
    *,
    webhook_url: str | None,
    listen: str,
    port: int,
) -> None:
    """Polling when ``webhook_url`` is None, else a webhook with the required secret."""
    key = settings.require_secret_key()
    webhook_secret = settings.require_webhook_secret() if webhook_url else None
    logs.configure(
        settings.log_level, secrets=[token, webhook_secret or ""], pseudonym_key=key
    )
    database_url = settings.resolved_database_url
    if upgrade_if_behind(database_url):
        log.info("database migrated")
    runtime = build_runtime(
        settings, BotApiEndpoint(settings.telegram_api_url, token), database_url=database_url
    )
    application = runtime.application
    log.info("starting mode=%s", "webhook" if webhook_url else "polling")
    try:
        with startup_frozen():  # bot/collector.py
            if webhook_url and webhook_secret:
                # aiohttp only where a webhook is served: polling workers stay lighter.
                from bot.webhook import WebhookConfig, serve

                asyncio.run(serve(application, WebhookConfig(
                    listen=listen, port=port, url_path=WEBHOOK_PATH, public_url=webhook_url,
                    secret=webhook_secret,
                )))
            else:
                application.run_polling(allowed_updates=Update.ALL_TYPES)
    except InvalidToken as exc:
        # PTB puts the rejected token in its message; say what is wrong without it.
        raise SettingsError(errors.startup_failure(exc, secrets=[token])) from None
    except NetworkError as exc:
        raise SettingsError(
            f"MESTRING_TELEGRAM_API_URL {settings.telegram_api_url} cannot be reached "
            f"({type(exc).__name__}); check the address and the network"
        ) from None
