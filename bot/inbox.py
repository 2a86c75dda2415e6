"""The webhook's inbox: record each update durably, then handle it in its chat's order.

The webhook answers Telegram only after :func:`record` has committed the update, so a worker
that dies after answering loses nothing. Every worker runs an :class:`InboxPump`, which claims
each chat's earliest unhandled update (storage/inbox.py: at most one per chat at a time, under a
lease), feeds it to the same PTB ``Application`` and update processor as polling does (flood
guard, per-chat FIFO, fairness and the handled-update tracking stay as they are), and marks it
handled. An update whose worker died is claimed again when its lease runs out: at-least-once,
so a person may, rarely, see an answer twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application

from bot.delivery.dispatcher import worker_name
from storage import inbox
from storage.clock import Clock
from storage.retry import retrying

log = logging.getLogger(__name__)

# A dead worker's updates wait at most this long; a live worker renews its leases every third.
LEASE = timedelta(seconds=15)
# A handled update's id is remembered this long (without its payload), so a resend of an update
# that was recorded but whose 200 never reached Telegram is not handled twice.
KEEP_HANDLED = timedelta(hours=1)
# Updates one worker handles at once (each from a different chat).
IN_FLIGHT = 64
# How often an idle pump looks for updates other workers recorded or left behind.
POLL_SECONDS = 0.5
# After failed looks (the database is down) the pump waits twice as long each time, up to this:
# a recorded update still wakes it at once, and the log gets a line per doubling, not two a
# second.
BACKOFF_MAX = timedelta(seconds=5)
PRUNE_EVERY = timedelta(minutes=5)


def chat_key(update: Update) -> int:
    """Whose updates must stay in order: the chat's, else the user's; 0 for neither."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return 0


async def record(
    sessions: async_sessionmaker[AsyncSession], clock: Clock, update: Update,
    payload: dict[str, Any],
) -> bool:
    """Commit the update to the inbox; False when it was there already (Telegram resent it)."""
    async def write() -> bool:
        async with sessions.begin() as session:
            return await inbox.record(session, update_id=update.update_id,
                                      chat_key=chat_key(update), payload=payload,
                                      now=clock.now())
    return await retrying(write, what="inbox record")


class InboxPump:
    """Claims and handles inbox updates until stopped (one per worker process)."""

    def __init__(
        self, application: Application,  # type: ignore[type-arg]
        sessions: async_sessionmaker[AsyncSession], clock: Clock, *,
        worker: str | None = None, lease: timedelta = LEASE, in_flight: int = IN_FLIGHT,
        poll_seconds: float = POLL_SECONDS, backoff_max: timedelta = BACKOFF_MAX,
    ) -> None:
        self.application = application
        self.sessions = sessions
        self.clock = clock
        self.worker = worker or worker_name()
        self.lease = lease
        self.in_flight = in_flight
        self.poll_seconds = poll_seconds
        self.backoff_max = backoff_max
        self._handling: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_renew = self.clock.now()
        self._next_prune = self.clock.now()

    def wake(self) -> None:
        """Look for work now (an update was just recorded, or one was handled)."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-pump")
        log.info("inbox started worker=%s", self.worker)

    async def stop(self) -> None:
        """Stop claiming; let the updates in hand finish (an unfinished one is retaken by
        another worker when its lease runs out)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._handling:
            await asyncio.wait(list(self._handling.values()),
                               timeout=self.lease.total_seconds() / 2)

    async def _run(self) -> None:
        failures = 0
        while True:
            self._wake.clear()
            try:
                await self._tick()
            except Exception as exc:  # a database hiccup must not stop the worker for good
                failures += 1
                if failures == 1:
                    log.exception("inbox claim failed")
                elif failures & (failures - 1) == 0:  # 2, 4, 8, ...: one line per doubling
                    log.warning("inbox claim still failing failures=%d error=%s", failures,
                                type(exc).__name__)
            else:
                if failures:
                    log.warning("inbox claim recovered failures=%d", failures)
                failures = 0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._pause(failures))

    def _pause(self, failures: int) -> float:
        if not failures:
            return self.poll_seconds
        return min(self.poll_seconds * 2 ** min(failures, 32), self.backoff_max.total_seconds())

    async def _tick(self) -> None:
        now = self.clock.now()
        if self._handling and now >= self._next_renew:
            await self._renew()
        if now >= self._next_prune:
            self._next_prune = now + PRUNE_EVERY
            async with self.sessions.begin() as session:
                await inbox.prune(session, handled_before=now - KEEP_HANDLED)
        free = self.in_flight - len(self._handling)
        if free <= 0:
            return
        async with self.sessions.begin() as session:
            claimed = await inbox.claim(session, now=now, worker=self.worker, limit=free,
                                        lease=self.lease)
        if claimed and not self._handling:
            self._next_renew = now + self.lease / 3
        for item in claimed:
            self._handling[item.update_id] = asyncio.create_task(self._handle(item))

    async def _renew(self) -> None:
        now = self.clock.now()
        self._next_renew = now + self.lease / 3
        async with self.sessions.begin() as session:
            await inbox.renew(session, list(self._handling), worker=self.worker,
                              until=now + self.lease)

    async def _handle(self, item: inbox.Claimed) -> None:
        app = self.application
        try:
            update = Update.de_json(item.payload, app.bot)
            # What PTB's own fetcher does with each update: through the update processor.
            await app.update_processor.process_update(update, app.process_update(update))
        except Exception:
            # Handler errors are PTB's error handler's; this is a broken update or a bug.
            log.exception("inbox update failed update_id=%d", item.update_id)
        try:
            async def done() -> None:
                async with self.sessions.begin() as session:
                    await inbox.mark_handled(session, [item.update_id], now=self.clock.now())
            await retrying(done, what="inbox handled")
        except Exception:
            log.exception("inbox mark handled failed update_id=%d", item.update_id)
        finally:
            self._handling.pop(item.update_id, None)
            self.wake()

