"""Bad input, answered kindly before any dialog sees it.

One guard runs after the actor loader and before the dialogs. It ends the processing of
updates the dialogs must never see (``ApplicationHandlerStop``):

* a person flooding the bot (``bot.updates.FloodGuard``): one calm note, once per flood;
* groups and supergroups: one kind note in the sender's language, then the bot leaves — the
  course is private, and a group would show one person's answers to others. It leaves once:
  being added sends both a ``my_chat_member`` update and a service message about it, and only
  the first makes it leave (a second ``leaveChat`` is refused by Telegram);
* channels: the bot leaves without a word; inline queries: an empty answer;
* edited messages: a note that edits are not read, once per message. They stop here because
  PTB's ``CommandHandler`` also matches edited messages, so an edit into ``/delete`` would
  otherwise run the command;
* stickers, photos, voice and other media from participants: a hint to write words instead
  (staff are left to the dialogs: an instructor's broadcast may carry a picture);
* unknown commands: a pointer to /help. "Known" is read from the registered
  ``CommandHandler``s once they are all registered (:func:`known_commands`), so a command
  added anywhere is known without touching this module.

Long, right-to-left or zero-width text needs no guard: the dialogs clean what they store
(``onboarding.clean_name``, ``action_plan.clean_text``) and never echo raw input at length.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque

from telegram import ChatMemberAdministrator, ChatMemberMember, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ApplicationHandlerStop, CommandHandler

from bot import render, turn
from bot.context import BotContext
from bot.logs import pseudonym
from dialogs import state
from dialogs.screen import Screen
from locales.i18n import Tr

log = logging.getLogger(__name__)


_GROUPS = (ChatType.GROUP, ChatType.SUPERGROUP)
_EDITS_REMEMBERED = 32
_EDITS_KEY = "robustness_edited_message_ids"


# -- screens -----------------------------------------------------------------------------------


def group_screen(tr: Tr) -> Screen:
    return Screen.of("\n\n".join((
        tr._("Hello! I only talk with people one to one, not in groups."),
        tr._("Please write to me in a private chat. I am leaving this group now."),
    )))


def edited_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("I do not read changes to messages. Please send it as a new message."))


def media_screen(tr: Tr, *, waiting: bool) -> Screen:
    if waiting:
        return Screen.of(tr._("I can only read text. Please write your answer in words."))
    return Screen.of("\n\n".join((
        tr._("I cannot read stickers, pictures or voice messages. "
             "Please write to me in words, or use the buttons."),
        tr._("Type /help to see what I can do."),
    )))


def flood_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "You sent me many messages at once, so I skipped some. "
        "Please wait a moment, then write again."
    ))


def unknown_command_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("I do not know that command. Type /help to see what I can do."))


# -- the guard ---------------------------------------------------------------------------------


def _tr(context: BotContext, update: Update) -> Tr:
    user = update.effective_user
    return context.tr_for(user.language_code if user is not None else None)


async def _leave(context: BotContext, chat_id: int, kind: str) -> None:
    log.info("leaving_chat kind=%s chat=%s", kind, pseudonym(chat_id))
    try:
        await context.bot.leave_chat(chat_id)
    except TelegramError:
        # Already gone (removed meanwhile) or not allowed: nothing more to do.
        return


async def _group(update: Update, context: BotContext) -> None:
    chat = update.effective_chat
    assert chat is not None
    joined = update.my_chat_member is not None and isinstance(
        update.my_chat_member.new_chat_member, ChatMemberMember | ChatMemberAdministrator
    )
    message = update.message
    speaks = joined or (message is not None and not message.new_chat_members
                        and not message.left_chat_member)
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    if speaks:
        # Not allowed to write here? Leaving is what matters.
        with contextlib.suppress(TelegramError):
            await render.send(update, group_screen(_tr(context, update)))
    if joined or (update.my_chat_member is None and not _about_me(message, context.bot.id)):
        await _leave(context, chat.id, "group")


def _about_me(message: Message | None, bot_id: int) -> bool:
    """A service message about the bot joining or leaving: Telegram also sends a
    ``my_chat_member`` update for that, which is where the bot leaves (once)."""
    if message is None:
        return False
    joined = any(member.id == bot_id for member in message.new_chat_members)
    left = message.left_chat_member is not None and message.left_chat_member.id == bot_id
    return joined or left


async def _edited(update: Update, context: BotContext, message: Message) -> None:
    # In memory per chat: after a restart a repeated edit may get the note once more.
    noted = context.chat_data.setdefault(_EDITS_KEY, deque(maxlen=_EDITS_REMEMBERED))
    if message.message_id in noted:
        return
    noted.append(message.message_id)
    await render.send(update, edited_screen(_tr(context, update)))


def _command(message: Message) -> str | None:
    """The command a message starts with (lower case, without @bot), if any."""
    entities = message.entities
    if not entities or message.text is None:
        return None
    first = entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    return message.parse_entity(first)[1:].split("@", 1)[0].lower()


def known_commands(application: Application) -> frozenset[str]:  # type: ignore[type-arg]
    """Every command a ``CommandHandler`` of ``application`` takes: read once, when the
    handlers are all registered (bot/app.py), not for every command a person sends."""
    return frozenset(
        command
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    )


def _is_staff(context: BotContext) -> bool:
    actor = context.actor
    return actor is not None and bool(
        actor.instructor_team_ids or actor.coordinator_municipality_ids
    )


async def _is_waiting(context: BotContext) -> bool:
    actor = context.actor
    if actor is None or actor.person_id is None:
        return False
    async with context.reads() as session:
        return await state.waiting_for(session, actor.person_id) is not None


async def _flood_note(update: Update, context: BotContext) -> None:
    if update.callback_query is not None:
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.PRIVATE:
        await render.send(update, flood_screen(_tr(context, update)))


async def guard(update: Update, context: BotContext) -> None:
    """Answer what the dialogs must not see, and stop there; let everything else through."""
    current = turn.current()
    if current is not None and current.flood_note:
        await _flood_note(update, context)
        raise ApplicationHandlerStop
    if update.inline_query is not None:
        with contextlib.suppress(TelegramError):
            await update.inline_query.answer([], cache_time=300, is_personal=True)
        raise ApplicationHandlerStop
    if update.chosen_inline_result is not None:
        raise ApplicationHandlerStop
    chat = update.effective_chat
    if chat is None:
        return
    if chat.type == ChatType.CHANNEL:
        await _leave(context, chat.id, "channel")
        raise ApplicationHandlerStop
    if chat.type in _GROUPS:
        await _group(update, context)
        raise ApplicationHandlerStop
    if chat.type != ChatType.PRIVATE:
        return
    if update.edited_message is not None:
        await _edited(update, context, update.edited_message)
        raise ApplicationHandlerStop
    message = update.message
    if message is None:
        return
    command = _command(message)
    if command is not None and command not in context.bot_data.known_commands:
        await render.send(update, unknown_command_screen(_tr(context, update)))
        raise ApplicationHandlerStop
    if message.text is None and message.effective_attachment is not None \
            and not _is_staff(context):
        await render.send(update, media_screen(_tr(context, update),
                                               waiting=await _is_waiting(context)))
        raise ApplicationHandlerStop


