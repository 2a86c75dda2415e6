"""mestring as `mestring run` runs it (long polling), with the outbox's pace given here.

bench/fanout.py starts it: `mestring run` paces the outbox for Telegram, and a benchmark with
the Bot API's limits off wants to see what the dispatcher can do unpaced. Everything else comes
from the MESTRING_ environment, as for `mestring run`.

    python bench/mestring_bot.py [--send-rate N | --send-rate none]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update

from bot import logs
from bot.app import BotApiEndpoint, build_runtime
from bot.collector import startup_frozen
from bot.settings import load_settings
from dialogs.delivery.config import DeliveryConfig
from storage.migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--send-rate", default="default",
                        help="messages a second for the outbox, 'none' for unpaced")
    args = parser.parse_args()
    settings = load_settings()
    token = settings.require_token()
    logs.configure(settings.log_level, secrets=[token], pseudonym_key=settings.key)
    upgrade(settings.resolved_database_url)
    config = DeliveryConfig() if args.send_rate == "default" else DeliveryConfig(
        send_rate_per_second=None if args.send_rate == "none" else float(args.send_rate))
    runtime = build_runtime(settings, BotApiEndpoint(settings.telegram_api_url, token),
                            database_url=settings.resolved_database_url,
                            delivery_config=config)
    # As `mestring run` (bot/runner.py): what lives from the start is left out of collections.
    with startup_frozen():
        runtime.application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
