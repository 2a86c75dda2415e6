"""What one update has done so far: who acts, whether the button was answered, whether anything
reached the person.

PTB builds a fresh context for the error handler, so it cannot see what the handlers learned
or did. Each update runs in its own asyncio task, and the update processor starts a
:class:`Turn` for it in a context variable; the actor loader, the reply pipeline
(``bot.replies``) and the error handler all read and note the same one.

The turn also holds the update's read session (:func:`reading`): the actor loader and the
handlers read in one session and one transaction, opened on the first read, and ended before
anything goes to Telegram, before a write transaction begins, and when the update is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.engine import Sessions

if TYPE_CHECKING:
    from bot.context import Actor

# Telegram methods whose success the person sees. A handler that got as far as one of these
# is not run again after a transient error: the person would get it twice.
SHOWN = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup", "sendVideo", "sendAudio",
    "sendVoice", "editMessageText", "editMessageCaption", "editMessageReplyMarkup",
    "editMessageMedia", "deleteMessage", "leaveChat",
})
ANSWER_QUERY = "answerCallbackQuery"


@dataclass
class Turn:
    # The person sent more than the flood guard allows: answer with one calm note instead.
    flood_note: bool = False
    actor: Actor | None = None
    query_answered: bool = False
    shown: bool = False
    # The task handling the update: a task it starts inherits the turn but not its session.
    task: asyncio.Task[object] | None = field(default=None, repr=False)
    reads: AsyncSession | None = field(default=None, repr=False)

    @property
    def here(self) -> bool:
        """Running in the update's own task (the only one that may use its read session)."""
        return self.task is not None and asyncio.current_task() is self.task

    async def end_reads(self) -> None:
        """End the update's read transaction and give its connection back: no transaction is
        held while Telegram answers, and a read after a write sees the write (SQLite keeps a
        read transaction's snapshot)."""
        session, self.reads = self.reads, None
        if session is not None:
            await session.close()

    def note(self, method: str) -> None:
        """A Telegram call of this update succeeded."""
        if method == ANSWER_QUERY:
            self.query_answered = True
        elif method in SHOWN:
            self.shown = True

    @property
    def may_repeat(self) -> bool:
        """Running the handler again would show the person nothing twice."""
        return not self.shown


_current: ContextVar[Turn | None] = ContextVar("mestring_turn", default=None)


def begin(*, flood_note: bool = False) -> Turn:
    """A new turn for the update about to be handled in this task."""
    turn = Turn(flood_note=flood_note, task=asyncio.current_task())
    _current.set(turn)
    return turn


def current() -> Turn | None:
    return _current.get()


@asynccontextmanager
async def reading(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The update's read session: the one opened by an earlier read of this update while it
    is still open, else a new one (outside an update: a session of its own, closed at the
    end). Only for reads: a handler that writes uses ``sessions.begin()``, which ends this
    session first (:class:`TurnSessions`)."""
    turn = _current.get()
    if turn is None or not turn.here:
        async with sessions() as session:
            yield session
        return
    session = turn.reads = turn.reads or (
        sessions.quick() if isinstance(sessions, Sessions) else sessions())
    try:
        yield session
    except BaseException:
        # A failed transaction is not read on in (nor retried in).
        await (turn.end_reads() if turn.reads is session else session.close())
        raise
    if turn.reads is not session:
        # Ended inside the block (a Telegram call, a write) and perhaps used again since.
        await session.close()


async def end_reads() -> None:
    """End the current update's read session, if this task has one open."""
    turn = _current.get()
    if turn is not None and turn.here:
        await turn.end_reads()


class TurnSessions(Sessions):
    """:class:`storage.engine.Sessions` whose write transactions end the update's read
    session first, so the update reads its own writes and holds one connection at a time."""

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:  # type: ignore[override]
        await end_reads()
        async with super().begin() as session:
            yield session
