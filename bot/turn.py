"""What one update has done so far: who acts, whether the button was answered, whether anything
reached the person.

PTB builds a fresh context for the error handler, so it cannot see what the handlers learned
or did. Each update runs in its own asyncio task, and the update processor starts a
:class:`Turn` for it in a context variable; the actor loader, the reply pipeline
(``bot.replies``) and the error handler all read and note the same one.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    turn = Turn(flood_note=flood_note)
    _current.set(turn)
    return turn


def current() -> Turn | None:
    return _current.get()
