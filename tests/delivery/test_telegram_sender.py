"""The outbox's sender: a text screen goes out exactly as the replies' ``send_to`` sends it
(text, formatting, buttons), and the message id it records is Telegram's."""

from __future__ import annotations

from bot.delivery.dispatcher import Delivered, Unreachable
from bot.delivery.telegram_sender import PtbSender, make_bot
from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from bot.render import send_to
from dialogs.screen import Button, Screen

SCREEN = Screen.of(
    "<b>Webinar i morgen</b>\n\nDit webinar om <i>modul 1</i> begynder kl. 19.00 &amp; varer "
    "en time.",
    [Button("Gå til webinaret", url="https://meet.example.org/x")],
    [Button("Ikke nu", callback="later:1"), Button("Stop", callback="stop:1")],
)
OUTBOX_USER, REPLY_USER, BLOCKED = 101, 102, 103


async def test_outbox_text_goes_out_as_a_reply_would_and_records_telegrams_id() -> None:
    async with LocalBotApi(limits=Limits.disabled()) as api:
        people = {user: api.add_user(user, "P", language_code="da")
                  for user in (OUTBOX_USER, REPLY_USER, BLOCKED)}
        for person in people.values():
            person.started = True
        people[BLOCKED].blocked = True
        bot = make_bot(api.token, api.bot_api_url, api.file_url, connections=2)
        sender = PtbSender(bot, timeout=5)
        try:
            # An earlier message in the chat, so the id is not 1 by chance.
            await bot.send_message(OUTBOX_USER, "før")
            result = await sender.send(OUTBOX_USER, SCREEN)
            await send_to(bot, REPLY_USER, SCREEN)
            blocked = await sender.send(BLOCKED, SCREEN)
        finally:
            await bot.shutdown()
        sent = api.state.chat_messages(OUTBOX_USER)[-1]
        reply = api.state.chat_messages(REPLY_USER)[-1]
    assert result == Delivered(sent.message_id)
    assert (sent.text, sent.entities, sent.reply_markup) == (
        reply.text, reply.entities, reply.reply_markup)
    assert sent.entities  # the HTML was parsed, not sent as tags
    assert isinstance(blocked, Unreachable)
