"""The one place delivery touches Telegram: a screen out through PTB, the answer classified.

The outbox has its own ``Bot`` (no PTB rate limiter): PTB's ``AIORateLimiter`` would sleep
through a 429 inside the send, holding a slot, while the dispatcher instead puts the row back
with ``retry_after`` on the injected clock and pauses the whole outbox. Its pacing is the
dispatcher's ``AsyncLimiter``, below the share kept for replies.
"""

from __future__ import annotations

from datetime import timedelta

from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut

from bot.delivery.dispatcher import (
    Delivered,
    Rejected,
    SendResult,
    TooManyRequests,
    Transient,
    Unreachable,
)
from bot.render import send_text, send_to
from bot.telegram_http import TelegramHttp
from dialogs.screen import Screen

# Telegram's words for a chat that is gone for good (PTB may change their case).
_GONE = ("chat not found", "user is deactivated", "bot was blocked", "bot was kicked")


def make_bot(token: str, base_url: str, base_file_url: str, *, connections: int = 16,
             timeout: float = 10.0, http: TelegramHttp | None = None) -> Bot:
    """A Bot for the outbox with a connection pool as wide as its concurrency; ``http`` gives
    it the worker's shared TLS context."""
    request = (http or TelegramHttp.for_api(base_url)).request(connections, timeout=timeout)
    # The outbox never polls: one HTTP client for both of PTB's slots, not a second one.
    return Bot(token, base_url=base_url, base_file_url=base_file_url, request=request,
               get_updates_request=request)


def _retry_seconds(error: RetryAfter) -> float:
    value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _network_reason(error: NetworkError) -> str:
    # PTB wraps transport errors as "Unknown error in HTTP implementation: <repr>", and a repr
    # may carry the request URL (with the token): keep only Telegram's own descriptions.
    if isinstance(error, TimedOut):
        return "Timed out"
    if error.message.startswith("Unknown error in HTTP implementation"):
        return "Network error"
    return error.message


class PtbSender:
    def __init__(self, bot: Bot, *, timeout: float = 10.0) -> None:
        self.bot = bot
        self.timeout = timeout
        self._ready = False

    async def send(self, chat_id: int, screen: Screen) -> SendResult:
        try:
            if not self._ready:
                await self.bot.initialize()
                self._ready = True
            if screen.media is None:
                message_id = await send_text(self.bot, chat_id, screen, **self._timeouts())
            else:
                message_id = (await send_to(self.bot, chat_id, screen, **self._timeouts())
                              ).message_id
        except RetryAfter as exc:
            return TooManyRequests(_retry_seconds(exc))
        except Forbidden as exc:
            return Unreachable(exc.message)
        except BadRequest as exc:
            if any(words in exc.message.lower() for words in _GONE):
                return Unreachable(exc.message)
            return Rejected(exc.message)
        except NetworkError as exc:  # includes TimedOut and 5xx answers
            return Transient(_network_reason(exc))
        except TelegramError as exc:
            return Transient(type(exc).__name__)
        return Delivered(message_id)

    def _timeouts(self) -> dict[str, float]:
        return {"read_timeout": self.timeout, "write_timeout": self.timeout,
                "connect_timeout": self.timeout, "pool_timeout": self.timeout}
