"""``python -m bot.local_api --port N``: run the local Bot API server out of process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal

from bot.local_api.app import DEMO_BOT_USERNAME, DEMO_TOKEN, LocalBotApi
from bot.local_api.limits import Limits


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot.local_api", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--token", default=DEMO_TOKEN)
    parser.add_argument("--bot-username", default=DEMO_BOT_USERNAME)
    parser.add_argument("--no-limits", action="store_true", help="disable flood control")
    return parser.parse_args(argv)


async def run_forever(args: argparse.Namespace) -> None:
    api = LocalBotApi(args.token, bot_username=args.bot_username,
                      limits=Limits.disabled() if args.no_limits else None)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await api.start(args.host, args.port)
    try:
        # Machine-readable first lines: a parent process reads these to find the server.
        print(f"LOCAL_BOT_API_URL={api.base_url}", flush=True)
        print(f"LOCAL_BOT_API_TOKEN={api.token}", flush=True)
        await stop.wait()
    finally:
        await api.stop()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(run_forever(parse_args(argv)))


if __name__ == "__main__":
    main()
