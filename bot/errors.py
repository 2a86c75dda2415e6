"""The one place an exception becomes what the person sees.

PTB calls :func:`on_error` for any exception a handler raises (after the bounded retries of
``bot.app.repeatable``). It logs first, without text or names; then the person gets one kind
apology in the language they chose, always as a message (the button they pressed stops
spinning, answered at most once); then the update stops there, so no later handler — a
fallback's "I did not understand" or "this button is no longer in use" — answers it again.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

from telegram import Update
from telegram.constants import ChatType, ParseMode
from telegram.error import Forbidden, InvalidToken, RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import turn
from bot.actor import load_actor_record
from bot.context import BotContext
from bot.logs import exception_summary, pseudonym, redact
from dialogs.screen import Screen
from locales.i18n import Tr, negotiate_locale

log = logging.getLogger(__name__)


def apology_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "Sorry, something went wrong on my side. Please try again in a moment. "
        "If it keeps happening, tell your instructor."
    ))


async def on_error(update: object, context: BotContext) -> None:
    user = update.effective_user if isinstance(update, Update) else None
    log.error(
        "update_failed update_id=%s user=%s error=%s",
        update.update_id if isinstance(update, Update) else "-",
        pseudonym(user.id if user is not None else None),
        exception_summary(context.error),
    )
    if isinstance(update, Update):
        await _apologise(update, context)
    raise ApplicationHandlerStop


async def _apologise(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    if chat is None or chat.type == ChatType.CHANNEL:
        return
    if isinstance(context.error, Forbidden):
        return  # blocked: an apology would meet the same refusal
    current = turn.current()
    user_id = update.effective_user.id if update.effective_user else None
    query = update.callback_query
    if query is not None and not (current is not None and current.query_answered):
        # Stop the spinner; the words come as a message, which cannot be too old to send.
        with contextlib.suppress(TelegramError):
            await query.answer()
    # After a reply waited for Telegram's flood control as long as it was worth it, the
    # apology is tried once, without waiting again.
    no_wait = 0.0 if isinstance(context.error, RetryAfter) else None
    text = apology_screen(await _person_tr(update, context)).text
    try:
        await context.bot.send_message(chat.id, text, parse_mode=ParseMode.HTML,
                                       rate_limit_args=no_wait)
    except TelegramError as exc:
        # The apology itself failed (network): nothing more to do for this update.
        log.warning("apology_failed user=%s error=%s", pseudonym(user_id), type(exc).__name__)


async def _person_tr(update: Update, context: BotContext) -> Tr:
    """The language the person chose: from the actor this update loaded, else from storage,
    else (storage is what failed) the best guess from Telegram and the defaults."""
    current = turn.current()
    if current is not None and current.actor is not None:
        return current.actor.tr
    user = update.effective_user
    services = context.services
    chosen = team_language = None
    if user is not None:
        try:
            async with services.sessions() as session:
                record = await load_actor_record(session, user.id)
            chosen, team_language = record.chosen_locale, record.team_language
        except Exception as exc:  # the database may be what failed; fall back quietly
            log.warning("apology_locale_unknown error=%s", type(exc).__name__)
    return services.catalogs.tr(negotiate_locale(
        chosen=chosen,
        telegram_language_code=user.language_code if user is not None else None,
        team_language=team_language,
        default=services.settings.default_locale,
    ))


def startup_failure(error: BaseException, *, secrets: Iterable[str] = ()) -> str:
    """One line for an error that stops the program, safe to print.

    PTB's ``InvalidToken`` puts the rejected token in its message, and a traceback printed by
    the command line would show it: callers print this line instead and exit.
    """
    if isinstance(error, InvalidToken):
        return "MESTRING_TELEGRAM_TOKEN was rejected by Telegram: check the token from @BotFather"
    return redact(exception_summary(error), secrets)
