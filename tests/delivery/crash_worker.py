"""A delivery worker process for the crash test: dispatch until the outbox is empty, then exit.

python -m tests.delivery.crash_worker DATABASE_URL API_ROOT TOKEN LEASE_SECONDS
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta

from bot.delivery.dispatcher import Dispatcher, worker_name
from bot.delivery.telegram_sender import PtbSender, make_bot
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.outbox_render import Renderer
from locales.i18n import Catalogs
from storage.clock import SystemClock
from storage.engine import create_engine, create_sessionmaker

IDLE_POLL_SECONDS = 0.05


async def main(database_url: str, api_root: str, token: str, lease: float) -> None:
    engine = create_engine(database_url)
    sessions = create_sessionmaker(engine)
    config = DeliveryConfig(send_rate_per_second=200.0, batch_size=50, concurrency=8,
                            lease=timedelta(seconds=lease))
    bot = make_bot(token, f"{api_root}/bot", f"{api_root}/file/bot", connections=10)
    dispatcher = Dispatcher(sessions, PtbSender(bot), Renderer(Catalogs.load(), "da"),
                            SystemClock(), config, worker=worker_name())
    try:
        while True:
            report = await dispatcher.run_until_idle()
            async with sessions() as session:
                if report.claimed == 0 and await outbox.next_wake(session) is None:
                    return
            await asyncio.sleep(IDLE_POLL_SECONDS)  # real process, real time: wait for leases
    finally:
        await bot.shutdown()
        await engine.dispose()


if __name__ == "__main__":
    url, root, token, lease = sys.argv[1:5]
    asyncio.run(main(url, root, token, float(lease)))
