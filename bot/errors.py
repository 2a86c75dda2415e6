"""The error handler: log first (without text or names), then answer the person kindly."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from telegram import Update
from telegram.error import InvalidToken, TelegramError

from bot.context import BotContext
from bot.logs import exception_summary, pseudonym, redact

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    user = update.effective_user if isinstance(update, Update) else None
    user_id = user.id if user is not None else None
    log.error(
        "update_failed update_id=%s user=%s error=%s",
        update.update_id if isinstance(update, Update) else "-",
        pseudonym(user_id),
        exception_summary(context.error),
    )
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    tr = context.tr_for(update.effective_user.language_code if update.effective_user else None)
    text = tr._(
        "Sorry, something went wrong on my side. Please try again in a moment. "
        "If it keeps happening, tell your instructor."
    )
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_chat.send_message(text)
    except TelegramError as exc:
        # The apology itself failed (blocked, network): nothing more to do for this update.
        log.warning("apology_failed user=%s error=%s", pseudonym(user_id), type(exc).__name__)


def startup_failure(error: BaseException, *, secrets: Iterable[str] = ()) -> str:
    """One line for an error that stops the program, safe to print.

    PTB's ``InvalidToken`` puts the rejected token in its message, and a traceback printed by
    the command line would show it: callers print this line instead and exit.
    """
    if isinstance(error, InvalidToken):
        return "MESTRING_TELEGRAM_TOKEN was rejected by Telegram: check the token from @BotFather"
    return redact(exception_summary(error), secrets)
