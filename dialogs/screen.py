"""What a person sees, without Telegram: text plus rows of buttons.

Screens are plain data so dialogs are tested without a bot; ``bot.render`` turns them into
Telegram messages. Text is Telegram HTML: anything that came from a person must pass
:func:`escape` first.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Button:
    label: str
    callback: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if (self.callback is None) == (self.url is None):
            raise ValueError("a button has exactly one of callback or url")


@dataclass(frozen=True)
class Media:
    """A photo or file Telegram already has, sent again by its ``file_id``."""

    kind: Literal["photo", "document"]
    file_id: str


@dataclass(frozen=True)
class Upload:
    """A file the bot makes (a calendar, a PDF), uploaded with the message as a document."""

    filename: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Screen:
    text: str
    buttons: tuple[tuple[Button, ...], ...] = field(default_factory=tuple)
    # With media the text becomes its caption (Telegram allows 1,024 characters there).
    media: Media | Upload | None = None

    @classmethod
    def of(cls, text: str, *rows: list[Button] | tuple[Button, ...]) -> Screen:
        return cls(text, tuple(tuple(row) for row in rows if row))


def escape(text: str) -> str:
    """Make user-supplied text safe inside Telegram HTML."""
    return html.escape(text, quote=False)
