"""Telegram handlers for delivery's own buttons. Thin: parse, call the use-case, answer."""

from __future__ import annotations

from telegram import Update

from bot import render
from bot.context import BotContext
from dialogs.callbacks import CallbackDataError
from dialogs.delivery.later import ask_again_later
from dialogs.reminders import LATER, asked_later_screen, later_gone_text


async def not_now(update: Update, context: BotContext) -> None:
    """ "Not now" under a prompt: plan it again for tomorrow and say when."""
    query = update.callback_query
    assert query is not None
    actor = context.actor
    if actor is None:
        raise RuntimeError("the actor loader did not run before this handler")
    try:
        (outbox_id,) = LATER.parse(query.data)
    except CallbackDataError:
        outbox_id = -1
    result = None
    if actor.person_id is not None and outbox_id > 0:
        services = context.services
        async with services.sessions.begin() as session:
            result = await ask_again_later(session, person_id=actor.person_id,
                                           outbox_id=outbox_id, now=services.clock.now())
    if result is None:
        await query.answer(later_gone_text(actor.tr))
        return
    await query.answer()
    await render.replace(update, asked_later_screen(actor.tr, result.due_at, result.tz))
