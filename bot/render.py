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
    participants get (text screens go out with the same ``message_parameters`` through
    :func:`send_text`, which reads only the message id of the answer).
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


async def send(update: Update, screen: Screen) -> None:
    """Answer in the chat the update came from (a text screen's answer from Telegram is not
    read: nothing uses the message a reply became)."""
    chat = update.effective_chat
    if chat is None:
        return
    if screen.media is not None:
        await send_to(chat.get_bot(), chat.id, screen)
        return
    await send_text(chat.get_bot(), chat.id, screen)


async def send_text(bot: Bot, chat_id: int, screen: Screen, **timeouts: float) -> int | None:
    """A text screen as :func:`send_to` sends it, reading only the message id of Telegram's
    answer (replies and the outbox's text messages)."""
    result = await _unread(bot, "sendMessage", {
        "chat_id": chat_id, "text": screen.text, **message_parameters(screen)}, **timeouts)
    message_id = result.get("message_id") if isinstance(result, dict) else None
    return int(message_id) if message_id is not None else None


async def replace(update: Update, screen: Screen) -> None:
    """Show ``screen`` in place of the message whose button was pressed."""
    query = update.callback_query
    # A text message cannot become a file: a screen with media is always a new message.
    if query is None or query.message is None or not hasattr(query.message, "edit_text") \
            or screen.media is not None:
        await send(update, screen)
        return
    await edited(_unread(query.get_bot(), "editMessageText", {
        "chat_id": query.message.chat.id, "message_id": query.message.message_id,
        "text": screen.text, **message_parameters(screen)}))


async def _unread(bot: Bot, method: str, data: dict[str, object], **timeouts: float) -> object:
    """``method`` as PTB's ``send_message`` / ``Message.edit_text`` make it, without building
    a ``Message`` of Telegram's answer (its plain JSON is returned): that was ~0.26 ms of CPU
    a message (sender, chat, entities, keyboard), a tenth of what an update costs the bot, and
    at a fan-out's pace the event loop is the limit. ``Bot._post`` is PTB's own request path,
    with the rate limiter (bot/replies.py) and its errors (a 429 is ``RetryAfter``, an
    unchanged edit ``BadRequest``); it is private, so the pin below 23,
    tests/delivery/test_telegram_sender.py and tests/bot/test_render.py guard it."""
    return await bot._post(method, data, **timeouts)


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
