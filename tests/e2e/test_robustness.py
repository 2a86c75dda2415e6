"""Bad input gets a clear, kind reply in the person's language, and nothing breaks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.local_api import SimMessage
from bot.sandbox import Sandbox
from storage.clock import FrozenClock
from storage.models import ActionPlan, Person

from .helpers import LANGUAGE_BUTTON, WORDS, join, make_team, texts

ANNA = 7101
GROUP = -100777
CHANNEL = -100888
LANGUAGES = ["da", "nb", "en"]

GROUP_WORDS = {"da": "privat chat", "nb": "privat chat", "en": "private chat"}
EDIT_WORDS = {"da": "ny besked", "nb": "ny melding", "en": "new message"}
MEDIA_WORDS = {"da": "klistermærker", "nb": "klistremerker", "en": "stickers"}
MEDIA_WAITING_WORDS = {"da": "med ord", "nb": "med ord", "en": "in words"}
UNKNOWN_COMMAND_WORDS = {"da": "kommando kender jeg ikke", "nb": "kommandoen kjenner jeg ikke",
                         "en": "do not know that command"}
NOT_UNDERSTOOD = {"da": "/help", "nb": "/help", "en": "/help"}
BAD_CODE_WORDS = {"da": "kunne ikke finde", "nb": "fant ikke", "en": "could not find"}
APOLOGY = "Sorry, something went wrong"


@pytest.fixture
async def bot(sandbox: Sandbox) -> Sandbox:
    """The sandbox (its application wires the privacy and robustness handlers)."""
    return sandbox


def last(bot: Sandbox, chat_id: int) -> SimMessage:
    message = bot.api.last_message_to(chat_id)
    assert message is not None
    return message


def no_failures(bot: Sandbox) -> None:
    """No apology was sent and Telegram refused nothing (too long, bad HTML …)."""
    # A 429 is flood control (raw simulated actions skip the human pause): PTB retries it.
    failed = [(c.method, c.description) for c in bot.api.calls
              if not c.ok and c.method != "getUpdates" and c.error_code != 429]
    assert not failed
    for chat_id in (ANNA,):
        assert not [t for t in texts(bot, chat_id) if APOLOGY in t]
        assert all(len(t) <= 4096 for t in texts(bot, chat_id))


async def joined(bot: Sandbox, language: str, first_name: str = "Kim") -> None:
    created = await make_team(bot)
    await join(bot, ANNA, created.participant_invite.code, language=language,
               first_name=first_name)


# -- places the bot does not belong ------------------------------------------------------------


@pytest.mark.parametrize("supergroup", [False, True])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_in_a_group_it_says_so_kindly_and_leaves(
    bot: Sandbox, language: str, supergroup: bool
) -> None:
    bot.api.add_user(ANNA, "Anna", language_code=language)
    bot.api.add_group(GROUP, "Kaffeklubben", supergroup=supergroup)
    await bot.handled(bot.api.send_text(ANNA, "/start hello everyone", chat_id=GROUP))
    note = last(bot, GROUP)
    assert GROUP_WORDS[language] in note.text
    assert [c.params["chat_id"] for c in bot.api.calls_to("leaveChat")] in ([GROUP], [str(GROUP)])
    assert not bot.api.state.chats[GROUP].bot_is_member
    assert len(bot.api.messages_to(GROUP)) == 1
    async with bot.services.sessions() as session:  # nothing about Anna was stored
        assert await session.scalar(select(Person.id).where(Person.telegram_user_id == ANNA)) \
            is None


async def test_a_known_participant_in_a_group_gets_their_own_language(bot: Sandbox) -> None:
    await joined(bot, "nb")
    bot.api.add_group(GROUP, "Kaffeklubben")
    await bot.handled(bot.api.send_text(ANNA, "/mydata", chat_id=GROUP))
    assert GROUP_WORDS["nb"] in last(bot, GROUP).text
    assert not [m for m in bot.api.messages_to(GROUP) if m.media_kind == "document"]


async def test_channel_posts_make_it_leave_without_a_word(bot: Sandbox) -> None:
    bot.api.add_channel(CHANNEL, "Nyheder")
    await bot.handled(bot.api.send_channel_post(CHANNEL, "Velkommen til kanalen"))
    assert bot.api.messages_to(CHANNEL) == []
    assert not bot.api.state.chats[CHANNEL].bot_is_member


async def test_inline_queries_get_an_empty_answer(bot: Sandbox) -> None:
    bot.api.add_user(ANNA, "Anna", language_code="da")
    await bot.handled(bot.api.send_inline_query(ANNA, "mine svar"))
    (query,) = bot.api.state.inline_queries.values()
    assert query.answered
    assert query.results == []
    assert bot.api.messages_to(ANNA) == []


# -- what a private chat may bring -------------------------------------------------------------


def user_messages(bot: Sandbox, chat_id: int) -> list[SimMessage]:
    return [m for m in bot.api.state.chat_messages(chat_id) if not m.from_bot]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_an_edit_gets_one_kind_note_and_is_not_acted_on(
    bot: Sandbox, language: str
) -> None:
    await joined(bot, language)
    await bot.send_text(ANNA, "hej")
    mine = user_messages(bot, ANNA)[-1]
    before = len(bot.api.messages_to(ANNA))
    # Edited into a command: edits are not read, so nothing is deleted.
    await bot.handled(bot.api.edit_text(ANNA, mine.message_id, "/delete"))
    assert EDIT_WORDS[language] in last(bot, ANNA).text
    await bot.handled(bot.api.edit_text(ANNA, mine.message_id, "/mydata"))
    assert len(bot.api.messages_to(ANNA)) == before + 1  # once per message
    await bot.send_text(ANNA, "igen")
    await bot.handled(bot.api.edit_text(ANNA, user_messages(bot, ANNA)[-1].message_id, "x"))
    assert EDIT_WORDS[language] in last(bot, ANNA).text  # a new message gets its own note
    no_failures(bot)


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice"])
@pytest.mark.parametrize("language", LANGUAGES)
async def test_media_get_a_hint_to_write_words(bot: Sandbox, language: str, kind: str) -> None:
    await joined(bot, language)
    send = {"sticker": bot.api.send_sticker, "photo": bot.api.send_photo,
            "voice": bot.api.send_voice}[kind]
    await bot.handled(send(ANNA))
    assert MEDIA_WORDS[language] in last(bot, ANNA).text
    # Where the bot waits for typed words (a new name), it says so.
    await bot.send_text(ANNA, "/settings")
    await bot.press(ANNA, _name_button(last(bot, ANNA)))
    await bot.handled(send(ANNA))
    assert MEDIA_WAITING_WORDS[language] in last(bot, ANNA).text
    no_failures(bot)


def _name_button(settings: SimMessage) -> str:
    return next(b["text"] for b in settings.buttons() if b.get("callback_data") == "v1:st:name")


async def test_a_stranger_sending_a_photo_gets_the_hint(bot: Sandbox) -> None:
    bot.api.add_user(ANNA, "Anna", language_code="nb")
    await bot.handled(bot.api.send_photo(ANNA, caption="se her"))
    assert MEDIA_WORDS["nb"] in last(bot, ANNA).text


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("command", ["/foobar", "/FOO@mestring_demo_bot", "/x" + "y" * 300])
async def test_unknown_commands_point_to_help(bot: Sandbox, language: str, command: str) -> None:
    bot.api.add_user(ANNA, "Anna", language_code=language)
    await bot.send_text(ANNA, command)
    reply = last(bot, ANNA).text
    assert UNKNOWN_COMMAND_WORDS[language] in reply
    assert "/help" in reply
    await bot.send_text(ANNA, "/help")  # known commands still work
    assert UNKNOWN_COMMAND_WORDS[language] not in last(bot, ANNA).text
    no_failures(bot)


# -- odd text ----------------------------------------------------------------------------------

ODD_TEXTS = [
    "x" * 10_000,
    "🙂" * 5_000,
    "\u202eמשה שלום\u202c مرحبا",
    "\u200b\u200c\u200d\ufeff",
    "a\u0301" * 3000,
    "<b>not closed & <i>",
]


@pytest.mark.parametrize("language", LANGUAGES)
async def test_odd_text_never_breaks_a_conversation(bot: Sandbox, language: str) -> None:
    await joined(bot, language)
    for text in ODD_TEXTS:
        await bot.send_text(ANNA, text)
        assert NOT_UNDERSTOOD[language] in last(bot, ANNA).text
    no_failures(bot)


@pytest.mark.parametrize("language", LANGUAGES)
async def test_odd_names_are_cleaned_or_refused(bot: Sandbox, language: str) -> None:
    created = await make_team(bot)
    bot.api.add_user(ANNA, "Anna", language_code=language)
    await bot.send_text(ANNA, f"/start {created.participant_invite.code}")
    words = WORDS[language]
    for label in (LANGUAGE_BUTTON[language], words.next, words.agree, words.adult,
                  words.other_name):
        await bot.press(ANNA, label)
    for text in ("x" * 10_000, "\u200b\u200d", "🙂" * 50):
        await bot.send_text(ANNA, text)
        assert "40" in last(bot, ANNA).text  # "at most 40 characters"
    await bot.send_text(ANNA, "\u202eمريم\u200b\u202c")
    async with bot.services.sessions() as session:
        name = await session.scalar(select(Person.display_name)
                                    .where(Person.telegram_user_id == ANNA))
    assert name == "مريم"
    no_failures(bot)


async def test_plan_texts_are_cleaned_and_bounded(bot: Sandbox, clock: FrozenClock) -> None:
    from datetime import UTC, datetime

    await joined(bot, "en")
    clock.set(datetime(2027, 1, 8, 10, 0, tzinfo=UTC))
    await bot.send_text(ANNA, "/plan")
    await bot.send_text(ANNA, "walk " * 2_000)  # too long: asked again, nothing stored
    await bot.send_text(ANNA, "\u202ewalk\u200b  in the\u00a0park\u202c")
    for text in ("10 minutes", "after lunch"):
        await bot.send_text(ANNA, text)
    await bot.press(ANNA, "5")
    await bot.press(ANNA, "8")
    async with bot.services.sessions() as session:
        plans = list(await session.scalars(select(ActionPlan)))
    assert [p.what for p in plans] == ["walk in the park"]
    no_failures(bot)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("payload", [
    "ÆØÅ🙂\u202e\u200bكود",
    "A" * 64 + "B" * 40,
    "abc def",
    "\u0000\u0007",
])
async def test_start_with_garbage_payloads(bot: Sandbox, language: str, payload: str) -> None:
    bot.api.add_user(ANNA, "Anna", language_code=language)
    await bot.send_text(ANNA, f"/start {payload}")
    assert BAD_CODE_WORDS[language] in last(bot, ANNA).text
    no_failures(bot)
