"""Telegram handlers for delivery: its own buttons, and Telegram telling us a person blocked
or unblocked the bot. Thin: parse, call the use-case, answer."""

from __future__ import annotations

import logging

from telegram import ChatMember, Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import render
from bot.context import BotContext
from bot.logs import pseudonym
from dialogs.callbacks import CallbackDataError
from dialogs.delivery import events
from dialogs.delivery.later import ask_again_later
from dialogs.reminders import LATER, asked_later_screen, later_gone_text

log = logging.getLogger(__name__)

# Statuses of the bot in a private chat: blocked by the person, or there to talk to.
_GONE = (ChatMember.BANNED, ChatMember.LEFT)
_BACK = (ChatMember.MEMBER,)


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


async def chat_member_changed(update: Update, context: BotContext) -> None:
    """``my_chat_member`` in a private chat: the person blocked the bot (unreachable at once,
    what waits for them is cancelled) or unblocked it (reachable again, replanned). Groups
    are the guard's (bot/handlers/robustness.py)."""
    change = update.my_chat_member
    chat = update.effective_chat
    if change is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    actor = context.acting
    if actor.person_id is None:
        raise ApplicationHandlerStop  # a stranger: nothing stored, nothing to change
    status = change.new_chat_member.status
    services = context.services
    now = services.clock.now()
    async with services.sessions.begin() as session:
        if status in _GONE:
            cancelled = await events.person_unreachable(session, actor.person_id, now,
                                                        reason="blocked the bot")
            log.info("person blocked the bot: %s, %d messages cancelled",
                     pseudonym(actor.telegram_user_id), cancelled)
        elif status in _BACK:
            await events.person_returned(session, actor.person_id, now, services.delivery)
            log.info("person unblocked the bot: %s", pseudonym(actor.telegram_user_id))
    raise ApplicationHandlerStop
