"""The reply pipeline: every Telegram request the bot's replies make passes here.

PTB calls this rate limiter around each request of the Application's bot. It does three things
that must hold for every handler without each handler knowing:

* **Pacing.** At most ``overall_per_second`` requests that name a chat (Telegram's ~30 messages
  a second). The limiter object is passed in, so the outbox can later share one budget with
  the replies.
* **429 without holding others up.** When Telegram answers "retry after N", *this* request
  waits N seconds and is sent again, for as long as the reply would not be older than
  ``max_wait`` by then; only then is the error raised. Other chats' replies carry on meanwhile:
  PTB's ``AIORateLimiter`` stops every request on any 429, so one person's flood, hitting the
  per-chat limit, held up everybody's replies.
* **What the update has done** is noted on its :class:`bot.turn.Turn`: a callback query is
  answered at most once per update (a second answer is skipped, as Telegram would refuse it),
  and whether anything reached the person, for the error handler and the retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot import turn
from bot.timing import Timing

log = logging.getLogger(__name__)

JSON = bool | dict[str, Any] | list[dict[str, Any]]
# Telegram rounds retry_after down; a little more keeps the repeat from meeting a 429 again.
_MARGIN_SECONDS = 0.1


class ReplyLimiter(BaseRateLimiter[float]):
    """``rate_limit_args`` (PTB's per-call argument) overrides ``max_wait`` for one call."""

    def __init__(
        self,
        *,
        max_wait: float = 60.0,
        overall: AsyncLimiter | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.max_wait = max_wait
        self.overall = overall if overall is not None else AsyncLimiter(30, 1)
        self.timing = timing or Timing()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSON]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: float | None,
    ) -> JSON:
        current = turn.current()
        if endpoint == turn.ANSWER_QUERY and current is not None and current.query_answered:
            return True  # answered earlier in this update; Telegram would refuse a second one
        await turn.end_reads()  # no transaction is held while Telegram answers
        max_wait = self.max_wait if rate_limit_args is None else rate_limit_args
        give_up_at = self.timing.now() + max_wait
        while True:
            try:
                if data.get("chat_id") is not None:
                    async with self.overall:
                        result = await callback(*args, **kwargs)
                else:
                    result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                wait = _seconds(exc.retry_after) + _MARGIN_SECONDS
                if self.timing.now() + wait > give_up_at:
                    log.warning("reply given up: %s asked to wait %.0fs, past %.0fs",
                                endpoint, wait, max_wait)
                    raise
                log.info("reply waits %.1fs for Telegram's flood control (%s)", wait, endpoint)
                await self.timing.sleep(wait)
                continue
            if current is not None:
                current.note(endpoint)
            return result


def _seconds(value: float | timedelta) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)
