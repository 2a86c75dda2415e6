"""One budget for everything the bot sends: Telegram allows a bot about 30 messages a second,
replies and the outbox together.

Replies take from it as they come (``limiter``, used by :class:`bot.replies.ReplyLimiter`).
The outbox takes only what replies leave (:meth:`SendBudget.spare`): it never queues on the
limiter, where a reply would wait behind it, and it leaves ``reserve`` messages of the
second's burst untouched, so a reply finds room at once even while a fan-out runs. With no
replies the outbox gets the whole rate, instead of a fixed share.
"""

from __future__ import annotations

import asyncio

from aiolimiter import AsyncLimiter

# Telegram's documented overall limit for one bot.
TELEGRAM_MESSAGES_PER_SECOND = 30.0
# Burst kept free for replies while the outbox sends.
REPLY_RESERVE = 3
# The budget's burst, in seconds of the rate. Telegram counts with a bucket of a second's
# burst; one as large here leaves no room for a message that arrives late and then close to
# the next (a busy event loop, the network): at full pace that is a 429. Half a second's burst
# tolerates half a second of such jitter at the same sustained rate.
BURST_SECONDS = 0.5


class SendBudget:
    def __init__(self, per_second: float = TELEGRAM_MESSAGES_PER_SECOND, *,
                 reserve: int = REPLY_RESERVE, burst_seconds: float = BURST_SECONDS) -> None:
        self.burst = max(1, round(per_second * burst_seconds))
        self.limiter = AsyncLimiter(self.burst, self.burst / per_second)
        self.reserve = min(reserve, self.burst - 1)
        self._tick = 1.0 / per_second

    async def spare(self) -> None:
        """Take one message of what replies leave, waiting until there is some."""
        # Polled: the bucket refills with time, and nothing signals it (aiolimiter keeps no
        # event for "capacity above a level").
        while not self.limiter.has_capacity(self.reserve + 1):  # noqa: ASYNC110
            await asyncio.sleep(self._tick)
        await self.limiter.acquire()  # immediate: the capacity was just there

    def spare_now(self) -> bool:
        """Whether :meth:`spare` would return at once."""
        return self.limiter.has_capacity(self.reserve + 1)
