"""The floor for bench/fanout.py: a bare send_message loop on python-telegram-bot.

Sends one message of a webinar reminder's size, with one URL button, to each chat in turn,
``CONCURRENCY`` at a time, on one ``Bot`` — nothing read, rendered or recorded. Imports only
``telegram``. Prints the seconds from the first send to the last answer.

    python bench/bare_send.py API_ROOT TOKEN FIRST_CHAT COUNT CONCURRENCY
"""

from __future__ import annotations

import asyncio
import sys
import time

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.request import HTTPXRequest

TEXT = ("<b>Webinar i morgen</b>\n\nDit webinar om modul 1 begynder i morgen, torsdag 7. "
        "januar kl. 19.00. Du finder linket herunder.")


async def main(root: str, token: str, first: int, count: int, concurrency: int) -> None:
    request = HTTPXRequest(connection_pool_size=concurrency)
    bot = Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot", request=request)
    markup = InlineKeyboardMarkup([[InlineKeyboardButton(
        "Gå til webinaret", url="https://meet.example.org/bench")]])
    chats = iter(range(first, first + count))
    async with bot:
        started = time.perf_counter()

        async def worker() -> None:
            for chat in chats:  # one shared iterator: each chat once
                await bot.send_message(chat, TEXT, parse_mode=ParseMode.HTML,
                                       reply_markup=markup)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        print(f"{time.perf_counter() - started:.3f}", flush=True)


if __name__ == "__main__":
    root, token, first, count, concurrency = sys.argv[1:6]
    asyncio.run(main(root, token, int(first), int(count), int(concurrency)))
