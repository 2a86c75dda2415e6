"""How updates are processed: one chat at a time, many chats at once.

PTB handles updates one by one unless told otherwise, so a slow reply to one person would hold
everybody behind it. This processor runs different chats concurrently but keeps each chat's
updates in order (a double-tap must not race itself), and it records which updates have been
handled, so the demo and the tests can wait for "the bot has answered" instead of sleeping.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Enough to wait for any update a driver just sent, small enough to stay flat in production.
_REMEMBERED_HANDLED = 4096


class ChatOrderedUpdateProcessor(BaseUpdateProcessor):
    def __init__(self, max_concurrent_updates: int = 16) -> None:
        super().__init__(max_concurrent_updates)
        self._chat_locks: dict[int, asyncio.Lock] = {}
        self._lock_users: dict[int, int] = {}
        self._handled: OrderedDict[int, None] = OrderedDict()
        self._handled_changed = asyncio.Condition()

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = _chat_key(update)
        try:
            if key is None:
                await coroutine
            else:
                lock = self._chat_locks.setdefault(key, asyncio.Lock())
                self._lock_users[key] = self._lock_users.get(key, 0) + 1
                try:
                    async with lock:
                        await coroutine
                finally:
                    self._lock_users[key] -= 1
                    if not self._lock_users[key]:
                        # Forget idle chats so memory stays flat with many participants.
                        del self._lock_users[key]
                        del self._chat_locks[key]
        finally:
            if isinstance(update, Update):
                async with self._handled_changed:
                    self._handled[update.update_id] = None
                    while len(self._handled) > _REMEMBERED_HANDLED:
                        self._handled.popitem(last=False)
                    self._handled_changed.notify_all()

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
