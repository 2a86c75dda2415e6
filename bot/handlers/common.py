"""Handlers every person can use: /start, /help, /language, and the kind fallbacks.

Thin by design: parse the update, call a dialog function, render its screen.
"""

from __future__ import annotations

from telegram import Update

from bot import render
from bot.context import BotContext
from dialogs import help as help_dialog
from dialogs import language
from dialogs.callbacks import CallbackDataError


async def start(update: Update, context: BotContext) -> None:
    actor = context.acting
    if actor.is_known:
        await render.send(update, help_dialog.welcome_back_screen(actor.tr, actor.display_name))
    else:
        await render.send(update, help_dialog.welcome_screen(actor.tr))


async def help_command(update: Update, context: BotContext) -> None:
    await render.send(update, help_dialog.help_screen(context.acting.tr))


async def language_command(update: Update, context: BotContext) -> None:
    await render.send(update, language.language_screen(context.acting.tr))


async def language_chosen(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        (locale,) = language.ACTION.parse(query.data)
        remembered = await language.choose_language(
            context.services.sessions, actor.telegram_user_id, locale
        )
    except (CallbackDataError, ValueError):
        await stale_button(update, context)
        return
    tr = context.services.catalogs.tr(locale)
    await query.answer()
    await render.replace(update, language.language_chosen_screen(tr, remembered=remembered))


async def stale_button(update: Update, context: BotContext) -> None:
    """A button this release does not know: from an old message, or forged."""
    query = update.callback_query
    assert query is not None
    tr = context.acting.tr
    await query.answer(
        tr._("This button is no longer in use. Type /help to see what I can do."),
        show_alert=True,
    )


async def not_understood(update: Update, context: BotContext) -> None:
    await render.send(update, help_dialog.not_understood_screen(context.acting.tr))
