"""Replies (bot/render.py): a text screen goes out, and a pressed message is edited, exactly as
PTB's ``send_message`` and ``Message.edit_text`` would (text, formatting, buttons), through
the reply pipeline (bot/replies.py, which notes what the update showed), with Telegram's
errors as PTB raises them; Telegram's answer is not built into a ``Message``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telegram import Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import ExtBot

from bot import render, turn
from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from bot.replies import ReplyLimiter
from dialogs.screen import Button, Screen

SCREEN = Screen.of(
    "<b>Modul 1: Krop og sind</b>\n\nLæs om <i>hvordan</i> krop &amp; sind hænger sammen.",
    [Button("Næste", callback="v1:ms:1:1")],
    [Button("Læs mere", url="https://example.org/modul-1")],
)
EDITED = Screen.of("<b>Modul 1 · trin 2</b>\n\nSkriv ned hvad du lægger mærke til.",
                   [Button("Færdig", callback="v1:md:1")])
PLAIN = Screen.of("Hjælp")
ANNA, BO, BLOCKED = 201, 202, 203


def _message_update(bot: ExtBot[Any], user: int) -> Update:
    return Update.de_json({"update_id": 1, "message": {
        "message_id": 1, "date": 0, "chat": {"id": user, "type": "private"},
        "from": {"id": user, "is_bot": False, "first_name": "P"}, "text": "/course"}}, bot)


def _press_update(bot: ExtBot[Any], user: int, message: Any) -> Update:
    return Update.de_json({"update_id": 2, "callback_query": {
        "id": "1", "chat_instance": "1", "data": "v1:ms:1:1",
        "from": {"id": user, "is_bot": False, "first_name": "P"},
        "message": message.to_dict()}}, bot)


async def test_replies_and_edits_go_out_as_ptb_would_make_them() -> None:
    async with LocalBotApi(limits=Limits.disabled()) as api:
        for user in (ANNA, BO, BLOCKED):
            api.add_user(user, "P", language_code="da").started = True
        api.state.users[BLOCKED].blocked = True
        bot: ExtBot[Any] = ExtBot(api.token, base_url=api.bot_api_url,
                                  base_file_url=api.file_url, rate_limiter=ReplyLimiter())
        await bot.initialize()
        try:
            shown: list[bool] = []

            async def update() -> None:
                this = turn.begin()
                await render.send(_message_update(bot, ANNA), SCREEN)
                shown.append(this.shown)  # the reply pipeline saw what reached the person

            await asyncio.create_task(update())
            # What PTB's own calls make of the same screens, in another chat.
            theirs = await bot.send_message(BO, SCREEN.text, **render.message_parameters(SCREEN))
            ours = api.state.chat_messages(ANNA)[-1]
            sent = [(m.text, m.entities, m.reply_markup)
                    for m in (ours, api.state.chat_messages(BO)[-1])]
            await theirs.edit_text(EDITED.text, **render.message_parameters(EDITED))
            await render.replace(_press_update(bot, ANNA, theirs.__class__.de_json(
                {**theirs.to_dict(), "message_id": ours.message_id,
                 "chat": {"id": ANNA, "type": "private"}}, bot)), EDITED)
            # Pressed again: the message already shows the screen, which is not an error.
            await render.replace(_press_update(bot, ANNA, theirs.__class__.de_json(
                {**theirs.to_dict(), "message_id": ours.message_id,
                 "chat": {"id": ANNA, "type": "private"}}, bot)), EDITED)
            await render.send(_message_update(bot, ANNA), PLAIN)
            with pytest.raises(Forbidden):
                await render.send(_message_update(bot, BLOCKED), PLAIN)
            with pytest.raises(BadRequest):
                await render.replace(_press_update(bot, ANNA, theirs.__class__.de_json(
                    {**theirs.to_dict(), "message_id": 9999,
                     "chat": {"id": ANNA, "type": "private"}}, bot)), SCREEN)
        finally:
            await bot.shutdown()
        edited_ours, plain = api.state.chat_messages(ANNA)[-2:]
        edited_theirs = api.state.chat_messages(BO)[-1]
    assert shown == [True]
    assert sent[0] == sent[1]
    assert sent[0][1]  # formatted
    assert sent[0][2]  # with its buttons
    assert edited_ours.message_id == ours.message_id
    assert (edited_ours.text, edited_ours.entities, edited_ours.reply_markup) == (
        edited_theirs.text, edited_theirs.entities, edited_theirs.reply_markup)
    assert edited_ours.entities  # the HTML was parsed, not sent as tags
    assert edited_ours.reply_markup
    assert (plain.text, plain.reply_markup) == ("Hjælp", None)
