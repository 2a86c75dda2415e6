"""How updates are processed: one chat at a time, many chats at once, nobody waiting for a flood.

PTB handles updates one by one unless told otherwise, so a slow reply to one person would hold
everybody behind it. This processor runs different chats concurrently but keeps each chat's
updates in order (a double-tap must not race itself):

* **Queued updates hold no slot.** An update first waits for its chat's turn (a FIFO lock per
  chat) and only then takes one of the ``max_concurrent_updates`` processing slots. PTB's own
  semaphore, taken before any of this, is set wide open for that reason. So one chat uses at
  most one slot, and a chat with a hundred updates queued takes nothing from the others.
* **Flood guard.** A person who sends more than ``FloodGuard.max_updates`` updates within
  ``window`` seconds gets one calm note (the update is marked on its :class:`bot.turn.Turn`;
  the guard handler answers it) and the rest are dropped on arrival, before they queue.
* It records which updates have been handled, so the demo and the tests can wait for "the bot
  has answered" instead of sleeping.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import turn
from bot.logs import pseudonym
from bot.timing import Timing

log = logging.getLogger(__name__)

# Enough to wait for any update a driver just sent, small enough to stay flat in production.
_REMEMBERED_HANDLED = 4096
# PTB's semaphore only bounds how many updates may wait in memory at once: the real slots are
# taken below, once it is the update's turn in its chat.
_WAITING_AT_MOST = 100_000


class Verdict(enum.Enum):
    HANDLE = "handle"
    NOTE = "note"  # over the limit: tell the person once, calmly
    DROP = "drop"  # over the limit and told already


@dataclass
class FloodGuard:
    """More than ``max_updates`` from one person within ``window`` seconds is a flood."""

    max_updates: int = 20
    window: float = 10.0
    timing: Timing = field(default_factory=Timing)
    _handled: dict[int, deque[float]] = field(default_factory=dict)
    _last_dropped: dict[int, float] = field(default_factory=dict)
    _next_sweep: float = 0.0

    def admit(self, person: int) -> Verdict:
        now = self.timing.now()
        if now >= self._next_sweep:
            self._sweep(now)
            self._next_sweep = now + self.window
        recent = self._handled.setdefault(person, deque())
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        if len(recent) < self.max_updates:
            recent.append(now)
            return Verdict.HANDLE
        last = self._last_dropped.get(person)
        self._last_dropped[person] = now
        # A flood gets one note; calm for a whole window, and the next flood gets one again.
        return Verdict.NOTE if last is None or now - last > self.window else Verdict.DROP

    def _sweep(self, now: float) -> None:
        """Forget people who have been quiet for a window, so memory stays flat."""
        for person in [p for p, times in self._handled.items()
                       if not times or times[-1] <= now - self.window]:
            del self._handled[person]
        for person in [p for p, at in self._last_dropped.items() if at <= now - self.window]:
            del self._last_dropped[person]


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    def __init__(
        self, max_concurrent_updates: int = 16, *, flood: FloodGuard | None = None
    ) -> None:
        super().__init__(_WAITING_AT_MOST)
        self._slots = asyncio.Semaphore(max_concurrent_updates)
        self._flood = flood
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._lock_users: dict[int, int] = {}
        self._handled: OrderedDict[int, None] = OrderedDict()
        self._handled_changed = asyncio.Condition()
        self.busy = 0  # updates holding a slot right now (for tests and benchmarks)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        verdict = self._verdict(update)
        this = turn.begin(flood_note=verdict is Verdict.NOTE)
        try:
            if verdict is Verdict.DROP:
                if isinstance(coroutine, Coroutine):
                    coroutine.close()  # never started: nothing to undo
                return
            async with self._chat_turn(_chat_key(update)), self._slots:
                self.busy += 1
                try:
                    await coroutine
                finally:
                    self.busy -= 1
                    await this.end_reads()
        finally:
            if isinstance(update, Update):
                async with self._handled_changed:
                    self._handled[update.update_id] = None
                    while len(self._handled) > _REMEMBERED_HANDLED:
                        self._handled.popitem(last=False)
                    self._handled_changed.notify_all()

    def _verdict(self, update: object) -> Verdict:
        if self._flood is None or not isinstance(update, Update) \
                or update.effective_user is None:
            return Verdict.HANDLE
        verdict = self._flood.admit(update.effective_user.id)
        if verdict is not Verdict.HANDLE:
            log.info("flood %s update_id=%s user=%s", verdict.value, update.update_id,
                     pseudonym(update.effective_user.id))
        return verdict

    @asynccontextmanager
    async def _chat_turn(self, key: int | None) -> AsyncIterator[None]:
        """Wait (holding nothing) until the chat's earlier updates are done."""
        if key is None:
            yield
            return
        lock = self._chat_locks.setdefault(key, asyncio.Lock())
        self._lock_users[key] = self._lock_users.get(key, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._lock_users[key] -= 1
            if not self._lock_users[key]:
                # Forget idle chats so memory stays flat with many participants.
                del self._lock_users[key]
                del self._chat_locks[key]

    async def wait_handled(self, update_id: int, within_seconds: float = 15.0) -> None:
        """Wait until the update with this id has been through every handler."""
        async with asyncio.timeout(within_seconds), self._handled_changed:
            await self._handled_changed.wait_for(lambda: update_id in self._handled)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None


def _chat_key(update: object) -> int | None:
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None
