"""Serving real Telegram: migrate, wire, and run polling or a webhook until stopped."""

from __future__ import annotations

import logging
from datetime import timedelta

from telegram import Update
from telegram.error import InvalidToken, NetworkError
from telegram.ext import Application

from bot import errors, logs
from bot.app import BotApiEndpoint, build_application
from bot.clock import SystemClock
from bot.context import Services
from bot.delivery.service import DeliveryService
from bot.delivery.telegram_sender import PtbSender, make_bot
from bot.i18n import Catalogs
from bot.retention import RetentionService
from bot.settings import Settings, SettingsError
from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade

log = logging.getLogger(__name__)


def run_bot(
    settings: Settings,
    token: str,
    *,
    webhook_url: str | None,
    listen: str,
    port: int,
    secret_token: str | None,
) -> None:
    logs.configure(settings.log_level, secrets=[token])
    database_url = settings.resolved_database_url
    upgrade(database_url)
    engine = create_engine(database_url)
    services = Services(
        settings=settings,
        sessions=create_sessionmaker(engine),
        catalogs=Catalogs.load(),
        clock=SystemClock(),
    )
    endpoint = BotApiEndpoint(settings.telegram_api_url, token)
    application = build_application(services, endpoint)
    # The outbox sends through its own Bot, paced below the share kept for replies.
    outbox_bot = make_bot(token, endpoint.base_url, endpoint.base_file_url)
    delivery = DeliveryService.build(
        sessions=services.sessions, catalogs=services.catalogs, clock=services.clock,
        sender=PtbSender(outbox_bot), default_locale=settings.default_locale,
    )
    retention = RetentionService(
        services.sessions, services.clock, retention=timedelta(days=settings.retention_days)
    )
    app_post_init = application.post_init

    async def start_delivery(app: Application) -> None:  # type: ignore[type-arg]
        if app_post_init is not None:
            await app_post_init(app)
        delivery.start()
        retention.start()

    async def dispose_engine(_: Application) -> None:  # type: ignore[type-arg]
        await retention.stop()
        await delivery.stop()
        await outbox_bot.shutdown()
        await engine.dispose()

    application.post_init = start_delivery
    application.post_shutdown = dispose_engine
    log.info("starting mode=%s", "webhook" if webhook_url else "polling")
    try:
        if webhook_url:
            application.run_webhook(
                listen=listen, port=port, url_path="telegram", webhook_url=webhook_url,
                secret_token=secret_token, allowed_updates=Update.ALL_TYPES,
            )
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
