"""Each strict rule rejects what Telegram rejects, with Telegram's text and PTB's exception."""

from __future__ import annotations

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden

from bot.local_api import LocalBotApi

PNG = b"\x89PNG\r\n\x1a\n"


def last_error(api: LocalBotApi) -> str | None:
    return api.calls[-1].description


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data=data)]])


async def test_empty_text(bot, anna: int) -> None:
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(anna, "")
    with pytest.raises(BadRequest, match=r"Message text is empty"):
        await bot.send_message(anna, "<b></b>", parse_mode="HTML")


async def test_length_counts_utf16_after_entity_parsing(bot, anna: int) -> None:
    await bot.send_message(anna, "a" * 4096)
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(anna, "a" * 4097)
    # Tags don't count: 4096 visible characters wrapped in <b> are fine.
    await bot.send_message(anna, "<b>" + "a" * 4096 + "</b>", parse_mode="HTML")
    # An emoji is two UTF-16 code units: 2048 emoji fit, one more does not.
    await bot.send_message(anna, "😀" * 2048)
    with pytest.raises(BadRequest, match=r"Message is too long"):
        await bot.send_message(anna, "😀" * 2048 + "a")


async def test_caption_too_long(bot, anna: int) -> None:
    await bot.send_photo(anna, PNG, caption="c" * 1024)
    with pytest.raises(BadRequest, match=r"^Message caption is too long$"):
        await bot.send_photo(anna, PNG, caption="c" * 1025)


async def test_callback_data_limits(bot, anna: int) -> None:
    with pytest.raises(BadRequest, match=r"^Button_data_invalid$"):
        await bot.send_message(anna, "x", reply_markup=keyboard("d" * 65))
    with pytest.raises(BadRequest, match=r"Button_data_invalid"):
        await bot.send_message(anna, "x", reply_markup={"inline_keyboard": [[
            {"text": "x", "callback_data": ""}]]})
    await bot.send_message(anna, "x", reply_markup=keyboard("d" * 64))
    await bot.send_message(anna, "x", reply_markup=keyboard("æ" * 32))  # 64 bytes in UTF-8
    with pytest.raises(BadRequest, match=r"Button_data_invalid"):
        await bot.send_message(anna, "x", reply_markup=keyboard("æ" * 32 + "a"))


async def test_button_needs_exactly_one_action_and_valid_url(
    bot, api: LocalBotApi, anna: int
) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(anna, "x", reply_markup={"inline_keyboard": [[{"text": "x"}]]})
    assert last_error(api) == ("Bad Request: can't parse inline keyboard button: Text buttons "
                               "are unallowed in the inline keyboard")
    with pytest.raises(BadRequest, match=r"exactly one"):
        await bot.send_message(anna, "x", reply_markup={"inline_keyboard": [[
            {"text": "x", "callback_data": "a", "url": "https://example.dk"}]]})
    bad = InlineKeyboardMarkup([[InlineKeyboardButton("x", url="javascript:alert(1)")]])
    with pytest.raises(BadRequest):
        await bot.send_message(anna, "x", reply_markup=bad)
    assert last_error(api) == (
        "Bad Request: inline keyboard button URL 'javascript:alert(1)' is invalid"
    )


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("æø <div>x</div>", 'Unsupported start tag "div" at byte offset 5'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b", "Unclosed start tag at byte offset 0"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
async def test_html_errors(bot, api: LocalBotApi, anna: int, html: str, error: str) -> None:
    with pytest.raises(BadRequest):
        await bot.send_message(anna, html, parse_mode="HTML")
    # PTB re-cases the description, so check Telegram's exact text on the server side.
    assert last_error(api) == "Bad Request: can't parse entities: " + error


async def test_unsupported_parse_mode(bot, anna: int) -> None:
    with pytest.raises(BadRequest, match=r"Unsupported parse_mode"):
        await bot.send_message(anna, "x", parse_mode="Textile")


async def test_explicit_entities_must_fit(bot, anna: int) -> None:
    with pytest.raises(BadRequest, match=r"out of the text bounds"):
        await bot.send_message(anna, "abc", entities=[{"type": "bold", "offset": 1, "length": 3}])


async def test_not_modified_and_missing_messages(bot, anna: int) -> None:
    sent = await bot.send_message(anna, "samme", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message "
                                         "content and reply markup are exactly the same"):
        await bot.edit_message_text("samme", anna, sent.message_id, reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("ny", anna, 9999)
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(anna, 9999)
    await bot.delete_message(anna, sent.message_id)
    with pytest.raises(BadRequest, match=r"Message to delete not found"):
        await bot.delete_message(anna, sent.message_id)


async def test_callback_answer_rules(bot, api: LocalBotApi, anna: int, clock) -> None:
    sent = await bot.send_message(anna, "?", reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match=r"Query is too old and response timeout expired or "
                                         "query id is invalid"):
        await bot.answer_callback_query("nonexistent")
    api.press_button(anna, sent.message_id, "a")
    (query_id,) = api.state.callback_queries
    with pytest.raises(BadRequest, match=r"Message_too_long"):
        await bot.answer_callback_query(query_id, text="x" * 201)
    clock.advance(api.limits.callback_query_ttl + 1)
    with pytest.raises(BadRequest, match=r"Query is too old"):
        await bot.answer_callback_query(query_id)


async def test_chat_not_found_blocked_deactivated(bot, api: LocalBotApi) -> None:
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(424242, "hej")
    api.add_user(11, "Never started")
    with pytest.raises(BadRequest, match=r"Chat not found"):
        await bot.send_message(11, "hej")
    api.add_user(12, "Blocker")
    api.send_text(12, "/start")
    api.block(12)
    with pytest.raises(Forbidden, match=r"^Forbidden: bot was blocked by the user$"):
        await bot.send_message(12, "hej")
    api.unblock(12)
    await bot.send_message(12, "velkommen tilbage")
    api.deactivate(12)
    with pytest.raises(Forbidden, match=r"^Forbidden: user is deactivated$"):
        await bot.send_message(12, "hej")


async def test_every_call_is_recorded(bot, api: LocalBotApi, anna: int) -> None:
    await bot.send_message(anna, "ok")
    with pytest.raises(BadRequest):
        await bot.send_message(anna, "")
    ok_call, failed = api.calls_to("sendMessage")[-2:]
    assert ok_call.ok
    assert ok_call.params["text"] == "ok"
    assert not failed.ok
    assert failed.error_code == 400
    assert failed.description == "Bad Request: message text is empty"
