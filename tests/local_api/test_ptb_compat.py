"""PTB's Bot and ExtBot talk to the local server unchanged."""

from __future__ import annotations

import asyncio

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import Conflict, EndPointNotFound, Forbidden, InvalidToken
from telegram.ext import ExtBot

from bot.local_api import DEMO_TOKEN, LocalBotApi

from .conftest import make_bot

KEYBOARD = InlineKeyboardMarkup(
    [[InlineKeyboardButton("Ja", callback_data="answer:yes"),
      InlineKeyboardButton("Nej", callback_data="answer:no")],
     [InlineKeyboardButton("Kurset", url="https://example.dk/kursus")]]
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x20rest-of-image"


async def test_get_me(bot, api: LocalBotApi) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == "mestring_demo_bot"
    assert me.id == 123456789
    assert api.token == DEMO_TOKEN


async def test_ext_bot_works_too(api: LocalBotApi, anna: int) -> None:
    async with ExtBot(api.token, base_url=api.bot_api_url, base_file_url=api.file_url) as bot:
        sent = await bot.send_message(anna, "Hej fra ExtBot")
    assert sent.text == "Hej fra ExtBot"


async def test_send_message_html_with_inline_keyboard(bot, api: LocalBotApi, anna: int) -> None:
    sent = await bot.send_message(
        anna,
        "<b>Velkommen</b> 😀 til <i>kurset</i> &amp; <a href='https://example.dk'>mere</a>",
        parse_mode=ParseMode.HTML,
        reply_markup=KEYBOARD,
        disable_notification=True,
        protect_content=True,
    )
    assert sent.text == "Velkommen 😀 til kurset & mere"
    assert sent.from_user is not None
    assert sent.from_user.is_bot
    assert sent.chat.id == anna
    assert sent.reply_markup == KEYBOARD
    types = [(e.type, e.offset, e.length) for e in sent.entities]
    # The emoji takes two UTF-16 units, so "kurset" starts at 17, not 16.
    assert types == [("bold", 0, 9), ("italic", 17, 6), ("text_link", 26, 4)]
    stored = api.last_message_to(anna)
    assert stored is not None
    assert stored.text == sent.text
    assert stored.parse_mode == "HTML"
    assert stored.button_texts() == ["Ja", "Nej", "Kurset"]
    assert stored.options == {"disable_notification": True, "protect_content": True}


async def test_text_that_looks_like_json_stays_a_string(bot, anna: int) -> None:
    for text in ("[1, 2]", '"quoted"', "42", "true", "null", '{"a": 1}'):
        sent = await bot.send_message(anna, text)
        assert sent.text == text


async def test_explicit_entities_and_reply(bot, api: LocalBotApi, anna: int) -> None:
    first = await bot.send_message(anna, "Første")
    sent = await bot.send_message(
        anna,
        "fed tekst",
        entities=[MessageEntity(MessageEntity.BOLD, 0, 3)],
        reply_parameters=ReplyParameters(first.message_id),
    )
    assert sent.entities == (MessageEntity(MessageEntity.BOLD, 0, 3),)
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == first.message_id


async def test_reply_keyboard_and_remove(bot, anna: int) -> None:
    await bot.send_message(anna, "Vælg", reply_markup=ReplyKeyboardMarkup([["A", "B"]]))
    sent = await bot.send_message(anna, "Tak", reply_markup=ReplyKeyboardRemove())
    assert sent.reply_markup is None  # only inline keyboards come back, as on Telegram


async def test_markdown_v2(bot, anna: int) -> None:
    sent = await bot.send_message(anna, r"*fed* og _kursiv_ \- `kode`", parse_mode="MarkdownV2")
    assert sent.text == "fed og kursiv - kode"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 0, 3), ("italic", 7, 6), ("code", 16, 4),
    ]


async def test_edit_text_markup_caption_and_delete(bot, api: LocalBotApi, anna: int) -> None:
    sent = await bot.send_message(anna, "Spørgsmål 1", reply_markup=KEYBOARD)
    edited = await bot.edit_message_text("Spørgsmål 1 – besvaret", chat_id=anna,
                                         message_id=sent.message_id, reply_markup=KEYBOARD)
    assert edited.text == "Spørgsmål 1 – besvaret"
    assert edited.edit_date is not None
    stripped = await bot.edit_message_reply_markup(anna, sent.message_id, reply_markup=None)
    assert stripped.reply_markup is None
    stored = api.last_message_to(anna)
    assert stored is not None
    assert stored.edited
    assert stored.reply_markup is None

    photo = await bot.send_photo(anna, PNG, caption="før")
    recaptioned = await bot.edit_message_caption(anna, photo.message_id, caption="<b>efter</b>",
                                                 parse_mode="HTML")
    assert recaptioned.caption == "efter"
    assert recaptioned.caption_entities[0].type == "bold"

    assert await bot.delete_message(anna, sent.message_id)
    assert [m.message_id for m in api.messages_to(anna)] == [photo.message_id]
    assert api.messages_to(anna, include_deleted=True)[0].deleted


async def test_callback_query_round_trip(bot, api: LocalBotApi, anna: int) -> None:
    await bot.get_updates()  # the /start update
    sent = await bot.send_message(anna, "Har du det godt?", reply_markup=KEYBOARD)
    update_id = api.press_button_by_text(anna, "Nej")
    updates = await bot.get_updates(offset=update_id)
    query = updates[0].callback_query
    assert query is not None
    assert query.data == "answer:no"
    assert query.message is not None
    assert query.message.message_id == sent.message_id
    assert query.from_user.id == anna
    assert query.chat_instance
    assert await bot.answer_callback_query(query.id, text="Tak for svaret", show_alert=True)
    (answer,) = api.callback_answers
    assert answer.answer is not None
    assert answer.answer["text"] == "Tak for svaret"
    assert answer.answer["show_alert"] is True


async def test_photo_and_document_upload_and_download(bot, api: LocalBotApi, anna: int) -> None:
    photo = await bot.send_photo(anna, PNG, caption="Et billede")
    assert photo.photo[-1].width == 16
    assert photo.photo[-1].height == 32
    assert photo.photo[-1].file_size == len(PNG)
    file = await bot.get_file(photo.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PNG

    doc = await bot.send_document(anna, b"%PDF-1.4 materials", filename="modul1.pdf",
                                  caption="Materialer")
    assert doc.document is not None
    assert doc.document.file_name == "modul1.pdf"
    assert doc.document.mime_type == "application/pdf"
    doc_file = await bot.get_file(doc.document.file_id)
    assert bytes(await doc_file.download_as_bytearray()) == b"%PDF-1.4 materials"

    again = await bot.send_photo(anna, photo.photo[-1].file_id)  # reuse by file_id
    assert again.photo[-1].file_unique_id == photo.photo[-1].file_unique_id
    stored = api.last_message_to(anna)
    assert stored is not None
    assert stored.photo_bytes == PNG


async def test_commands_by_scope_and_language(bot, api: LocalBotApi, anna: int) -> None:
    da = [BotCommand("start", "Start forløbet"), BotCommand("hjaelp", "Hjælp")]
    en = [BotCommand("start", "Start the course")]
    await bot.set_my_commands(da, scope=BotCommandScopeAllPrivateChats(), language_code="da")
    await bot.set_my_commands(en, scope=BotCommandScopeAllPrivateChats(), language_code="en")
    await bot.set_my_commands([BotCommand("team", "Holdet")], scope=BotCommandScopeChat(anna))
    scope = BotCommandScopeAllPrivateChats()
    assert await bot.get_my_commands(scope=scope, language_code="da") == tuple(da)
    assert await bot.get_my_commands(scope=scope, language_code="en") == tuple(en)
    assert await bot.get_my_commands(scope=scope) == ()
    assert await bot.get_my_commands() == ()
    assert api.commands({"type": "chat", "chat_id": anna}) == [
        {"command": "team", "description": "Holdet"}
    ]
    assert await bot.delete_my_commands(scope=scope, language_code="en")
    assert await bot.get_my_commands(scope=scope, language_code="en") == ()


async def test_chat_action_get_chat_leave_chat(bot, api: LocalBotApi, anna: int) -> None:
    assert await bot.send_chat_action(anna, "typing")
    chat = await bot.get_chat(anna)
    assert chat.first_name == "Anna"
    assert chat.type == "private"
    api.add_group(-100200, "Holdet")
    group = await bot.get_chat(-100200)
    assert group.title == "Holdet"
    assert await bot.leave_chat(-100200)
    assert await bot.log_out()
    assert await bot.close()


async def test_long_poll_wakes_when_a_user_writes(api: LocalBotApi) -> None:
    api.add_user(7, "Bo")
    async with make_bot(api, read_timeout=5) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await api.wait_for_poller()
        assert not poll.done()
        update_id = api.send_text(7, "hej")
        # 30 s poll, answered long before the 5 s bound: it woke on the new update.
        updates = await asyncio.wait_for(poll, 5)
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None
    assert updates[0].message.text == "hej"


async def test_long_poll_times_out_empty(bot) -> None:
    assert await bot.get_updates(timeout=0.05) == ()


async def test_offset_confirms_and_allowed_updates_filter(bot, api: LocalBotApi, anna: int) -> None:
    first = await bot.get_updates()
    assert len(first) == 1
    assert first[0].message is not None
    assert api.pending_updates() == 1  # delivered but not yet confirmed
    assert await bot.get_updates(offset=first[0].update_id + 1) == ()
    assert api.pending_updates() == 0

    sent = await bot.send_message(anna, "Klar?", reply_markup=KEYBOARD)
    await bot.get_updates(allowed_updates=["callback_query"])
    api.send_text(anna, "ignored text")
    press_id = api.press_button(anna, sent.message_id, "answer:yes")
    updates = await bot.get_updates()  # the filter is kept until changed
    assert [u.update_id for u in updates] == [press_id]
    await bot.get_updates(offset=press_id + 1, allowed_updates=[])  # back to the default
    text_id = api.send_text(anna, "seen again")
    assert [u.update_id for u in await bot.get_updates()] == [text_id]


async def test_deep_link_start_payload(bot, api: LocalBotApi) -> None:
    api.add_user(5, "Carl")
    api.send_text(5, "/start inv_ABC123")
    (update,) = await bot.get_updates()
    assert update.message is not None
    assert update.message.text == "/start inv_ABC123"
    assert update.message.entities[0].type == "bot_command"
    assert update.message.entities[0].length == len("/start")


async def test_user_edits_sticker_photo_voice(bot, api: LocalBotApi, anna: int) -> None:
    await bot.get_updates()
    msg_update = api.send_text(anna, "skrev forkert")
    (update,) = await bot.get_updates(offset=msg_update)
    assert update.message is not None
    api.edit_text(anna, update.message.message_id, "skrev rigtigt")
    api.send_sticker(anna)
    api.send_photo(anna, PNG, caption="mit billede")
    api.send_voice(anna)
    updates = await bot.get_updates(offset=msg_update + 1)
    assert updates[0].edited_message is not None
    assert updates[0].edited_message.text == "skrev rigtigt"
    assert updates[1].message is not None
    assert updates[1].message.sticker is not None
    photo_msg = updates[2].message
    assert photo_msg is not None
    assert photo_msg.caption == "mit billede"
    file = await bot.get_file(photo_msg.photo[-1].file_id)
    assert bytes(await file.download_as_bytearray()) == PNG
    assert updates[3].message is not None
    assert updates[3].message.voice is not None


async def test_channel_post_and_inline_query(bot, api: LocalBotApi) -> None:
    api.add_user(9, "Dorte")
    api.add_channel(-100900, "Nyheder")
    api.send_channel_post(-100900, "Nyt modul")
    api.send_inline_query(9, "modul")
    updates = await bot.get_updates()
    assert updates[0].channel_post is not None
    assert updates[0].channel_post.text == "Nyt modul"
    assert updates[1].inline_query is not None
    assert await bot.answer_inline_query(updates[1].inline_query.id, [])


async def test_webhook_blocks_get_updates(bot) -> None:
    assert await bot.set_webhook("https://example.dk/hook", secret_token="s3cret")
    info = await bot.get_webhook_info()
    assert info.url == "https://example.dk/hook"
    with pytest.raises(Conflict, match=r"can't use getUpdates method while webhook is active"):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()


async def test_unknown_token_and_method(api: LocalBotApi) -> None:
    bot = Bot("999:wrong", base_url=api.bot_api_url)
    try:
        with pytest.raises(InvalidToken, match=r"rejected"):
            await bot.initialize()  # calls getMe
    finally:
        await bot.shutdown()
    async with make_bot(api) as good:
        with pytest.raises(EndPointNotFound):
            await good.do_api_request("noSuchMethod")


async def test_method_names_are_case_insensitive(bot, api: LocalBotApi) -> None:
    result = await bot.do_api_request("GETME")
    assert result["username"] == "mestring_demo_bot"
    assert api.calls[-1].method == "getMe"


async def test_wait_for_message_sees_replies_after_the_last_user_action(
    bot, api: LocalBotApi, anna: int
) -> None:
    await bot.send_message(anna, "old reply")
    api.send_text(anna, "spørgsmål")
    waiter = asyncio.create_task(api.wait_for_message(anna, lambda m: "svar" in (m.text or "")))
    await bot.send_message(anna, "noget andet")
    await bot.send_message(anna, "her er dit svar")
    message = await asyncio.wait_for(waiter, 5)
    assert message.text == "her er dit svar"
    with pytest.raises(TimeoutError, match=r"here is dit svar|bot messages in that chat"):
        await api.wait_for_message(anna, lambda m: m.text == "never", timeout=0.01)


async def test_blocking_and_unblocking_tell_the_bot_with_my_chat_member(
    bot, api: LocalBotApi, anna: int
) -> None:
    await bot.get_updates()  # the /start update
    blocked = api.block(anna)
    assert blocked is not None
    assert api.block(anna) is None  # blocking twice changes nothing, so Telegram says nothing
    (update,) = await bot.get_updates(offset=blocked)
    change = update.my_chat_member
    assert change is not None
    assert (change.chat.id, change.chat.type, change.from_user.id) == (anna, "private", anna)
    assert (change.old_chat_member.status, change.new_chat_member.status) == ("member", "kicked")
    assert change.new_chat_member.user.id == bot.id

    # Writing again unblocks, as in Telegram: the bot hears of it before the message.
    text_id = api.send_text(anna, "/start")
    updates = await bot.get_updates(offset=blocked + 1)
    assert [u.update_id for u in updates][-1] == text_id
    (unblocked,) = [u.my_chat_member for u in updates if u.my_chat_member is not None]
    assert (unblocked.old_chat_member.status, unblocked.new_chat_member.status) == (
        "kicked", "member")
    # A bot that missed the update learns it from the 403 only.
    assert api.block(anna, tell_bot=False) is None
    with pytest.raises(Forbidden):
        await bot.send_message(anna, "hej")


async def test_adding_the_bot_to_a_group_and_leaving_it(bot, api: LocalBotApi, anna: int) -> None:
    api.add_group(-100300, "Kaffeklubben")
    member_id, message_id = api.add_bot_to_group(anna, -100300)
    updates = {u.update_id: u for u in await bot.get_updates()}
    joined = updates[member_id].my_chat_member
    assert joined is not None
    assert (joined.old_chat_member.status, joined.new_chat_member.status) == ("left", "member")
    service = updates[message_id].message
    assert service is not None
    assert [u.id for u in service.new_chat_members] == [bot.id]
    assert await bot.leave_chat(-100300)
    # Telegram refuses a second leave: the bot is no longer a member.
    with pytest.raises(Forbidden, match="bot is not a member"):
        await bot.leave_chat(-100300)
