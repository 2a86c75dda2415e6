"""Flood control like Telegram's: token buckets per bot, per private chat and per group.

Telegram documents ~30 messages/s overall, ~1 message/s per chat (short bursts tolerated) and
20 messages/min per group. All of it is measured with the injected clock so tests move time
instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limits:
    """Configurable limits; ``Limits.disabled()`` turns flood control off (benchmarks)."""

    enabled: bool = True
    global_per_second: float = 30.0
    global_burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 3
    group_per_minute: float = 20.0
    group_burst: int = 20
    # How long a callback query can be answered (Telegram: "query is too old" afterwards).
    callback_query_ttl: float = 60.0

    @classmethod
    def disabled(cls) -> Limits:
        return cls(enabled=False)


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = now

    def wait_time(self) -> float:
        """Seconds until one token is available (0 if one is available now)."""
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


@dataclass
class RateLimiter:
    limits: Limits = field(default_factory=Limits)
    clock: Callable[[], float] = time.monotonic
    _global: TokenBucket | None = None
    _chats: dict[int, TokenBucket] = field(default_factory=dict)

    def check(self, chat_id: int, *, is_group: bool) -> int | None:
        """Consume one send for ``chat_id``; return retry_after seconds if over the limit.

        Nothing is consumed when the send is refused, as with Telegram.
        """
        if not self.limits.enabled:
            return None
        now = self.clock()
        global_bucket = self._global_bucket(now)
        chat_bucket = self._chat_bucket(chat_id, now, is_group=is_group)
        global_bucket.refill(now)
        chat_bucket.refill(now)
        wait = max(global_bucket.wait_time(), chat_bucket.wait_time())
        if wait > 0:
            return max(1, math.ceil(wait))
        global_bucket.tokens -= 1.0
        chat_bucket.tokens -= 1.0
        return None

    def reset(self, limits: Limits | None = None) -> None:
        if limits is not None:
            self.limits = limits
        self._global = None
        self._chats.clear()

    def _global_bucket(self, now: float) -> TokenBucket:
        if self._global is None:
            cap = float(self.limits.global_burst)
            self._global = TokenBucket(self.limits.global_per_second, cap, cap, now)
        return self._global

    def _chat_bucket(self, chat_id: int, now: float, *, is_group: bool) -> TokenBucket:
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if is_group:
                rate, cap = self.limits.group_per_minute / 60.0, float(self.limits.group_burst)
            else:
                rate, cap = self.limits.private_per_second, float(self.limits.private_burst)
            bucket = TokenBucket(rate, cap, cap, now)
            self._chats[chat_id] = bucket
        return bucket
