"""Turn a :class:`dialogs.screen.Screen` into a Telegram message."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from dialogs.screen import Screen, Upload

T = TypeVar("T")


def markup(screen: Screen) -> InlineKeyboardMarkup | None:
    if not screen.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(b.label, callback_data=b.callback)
                if b.callback is not None
                else InlineKeyboardButton(b.label, url=b.url)
                for b in row
            ]
            for row in screen.buttons
        ]
    )


def message_parameters(screen: Screen) -> dict[str, object]:
    """How every message of a screen is sent, beside its text: HTML, and its buttons."""
    return {"parse_mode": ParseMode.HTML, "reply_markup": markup(screen)}


async def send_to(bot: Bot, chat_id: int, screen: Screen, **timeouts: float) -> Message:
    """Send a screen: a text message, or its media with the text as caption.

    Replies and the outbox both send through here, so an instructor's preview is exactly what
    participants get (the outbox's text messages go out with the same ``message_parameters``
    through ``PtbSender._send_text``, which reads only the message id of the answer).
    """
    common = {**message_parameters(screen), **timeouts}
    if screen.media is None:
        return await bot.send_message(chat_id, screen.text, **common)
    if isinstance(screen.media, Upload):
        # A fresh InputFile per send: the outbox may send the same screen again after a retry.
        document = InputFile(screen.media.data, filename=screen.media.filename)
        return await bot.send_document(chat_id, document, caption=screen.text, **common)
    if screen.media.kind == "photo":
        return await bot.send_photo(chat_id, screen.media.file_id, caption=screen.text, **common)
    return await bot.send_document(chat_id, screen.media.file_id, caption=screen.text, **common)


async def send(update: Update, screen: Screen) -> Message | None:
    """Answer in the chat the update came from."""
    chat = update.effective_chat
    if chat is None:
        return None
    return await send_to(chat.get_bot(), chat.id, screen)


async def replace(update: Update, screen: Screen) -> None:
    """Show ``screen`` in place of the message whose button was pressed."""
    query = update.callback_query
    # A text message cannot become a file: a screen with media is always a new message.
    if query is None or query.message is None or not hasattr(query.message, "edit_text") \
            or screen.media is not None:
        await send(update, screen)
        return
    await edited(query.message.edit_text(  # type: ignore[union-attr]
        screen.text, **message_parameters(screen)
    ))


async def edited(edit: Awaitable[T]) -> T | None:
    """Every edit goes through here: showing what is already shown is done, not an error.

    A double tap, or two taps handled by two workers, edits a message into the state it is
    already in; Telegram answers "message is not modified", and the person sees the right
    thing either way.
    """
    try:
        return await edit
    except BadRequest as exc:
        if "message is not modified" not in exc.message.lower():
            raise
        return None
