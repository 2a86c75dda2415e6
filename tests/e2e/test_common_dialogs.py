"""/start, /help, /language and the kind fallbacks, as a person on Telegram sees them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.commands import MENU_LANGUAGE_CODES, PARTICIPANT_MENU
from bot.demo import DEMO_USER_ID
from bot.local_api import LocalBotApi
from bot.sandbox import HumanPace, Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.safety import EMERGENCY_NUMBERS
from storage.clock import FrozenClock
from storage.models import Person

STRANGER = 5001
HELP_TITLE = {"da": "Hjælp", "nb": "Hjelp", "en": "Help"}
NOT_UNDERSTOOD = {
    "da": "Undskyld, det forstod jeg ikke.",
    "nb": "Beklager, det forsto jeg ikke.",
    "en": "Sorry, I did not understand that.",
}


def last_text(sandbox: Sandbox, chat_id: int) -> str:
    message = sandbox.api.last_message_to(chat_id)
    assert message is not None, "the bot did not answer"
    return message.text or ""


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_help_shows_every_emergency_number_in_the_persons_language(
    sandbox: Sandbox, language: str
) -> None:
    sandbox.api.add_user(STRANGER, "Kim", language_code=language)
    await sandbox.send_text(STRANGER, "/help")
    text = last_text(sandbox, STRANGER)
    assert text.startswith(HELP_TITLE[language])
    for lines in EMERGENCY_NUMBERS.values():
        for line in lines:
            assert line.number in text


@pytest.mark.parametrize(
    ("language", "words"),
    [("da", "link"), ("nb", "lenken"), ("en", "invite link")],
)
async def test_start_without_a_code_explains_how_to_join(
    sandbox: Sandbox, language: str, words: str
) -> None:
    sandbox.api.add_user(STRANGER, "Kim", language_code=language)
    await sandbox.send_text(STRANGER, "/start")
    assert words in last_text(sandbox, STRANGER)


async def test_a_participant_switches_language_and_it_is_remembered(sandbox: Sandbox) -> None:
    sandbox.api.add_user(DEMO_USER_ID, "Demo", language_code="da")
    await sandbox.send_text(DEMO_USER_ID, "/help")
    assert last_text(sandbox, DEMO_USER_ID).startswith("Hjælp")

    await sandbox.send_text(DEMO_USER_ID, "/language")
    assert sandbox.api.last_message_to(DEMO_USER_ID).button_texts() == [
        "✓ Dansk", "Norsk bokmål", "English",
    ]
    await sandbox.press(DEMO_USER_ID, "Norsk bokmål")
    assert last_text(sandbox, DEMO_USER_ID) == "Nå skriver jeg til deg på norsk bokmål."
    # The choice outlives the language Telegram reports.
    await sandbox.send_text(DEMO_USER_ID, "/help")
    assert last_text(sandbox, DEMO_USER_ID).startswith("Hjelp")
    async with sandbox.services.sessions() as session:
        locale = await session.scalar(
            select(Person.locale).where(Person.telegram_user_id == DEMO_USER_ID)
        )
    assert locale == "nb"


async def test_a_strangers_language_choice_stores_nothing(sandbox: Sandbox) -> None:
    sandbox.api.add_user(STRANGER, "Kim", language_code="da")
    await sandbox.send_text(STRANGER, "/language")
    await sandbox.press(STRANGER, "English")
    assert "I will remember it when you join" in last_text(sandbox, STRANGER)
    async with sandbox.services.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Person).where(Person.telegram_user_id == STRANGER)
        )
    assert count == 0


async def test_a_double_tap_on_a_language_button_answers_both_taps(sandbox: Sandbox) -> None:
    sandbox.api.add_user(DEMO_USER_ID, "Demo", language_code="da")
    await sandbox.send_text(DEMO_USER_ID, "/language")
    message = sandbox.api.last_message_to(DEMO_USER_ID)
    first = sandbox.api.press_button(DEMO_USER_ID, message.message_id, "v1:lang:en")
    second = sandbox.api.press_button(DEMO_USER_ID, message.message_id, "v1:lang:en")
    await sandbox.handled(first)
    await sandbox.handled(second)
    # Both taps stop spinning, and the person sees one answer, not an apology.
    assert len(sandbox.api.callback_answers) == 2
    assert [m.text for m in sandbox.api.messages_to(DEMO_USER_ID)] == [
        "I will write to you in English from now on."
    ]


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_free_text_gets_a_kind_hint_in_the_persons_language(
    sandbox: Sandbox, language: str
) -> None:
    sandbox.api.add_user(STRANGER, "Kim", language_code=language)
    await sandbox.send_text(STRANGER, "hvad sker der 🤔")
    assert last_text(sandbox, STRANGER).startswith(NOT_UNDERSTOOD[language])


async def test_the_command_menu_is_registered_per_language(sandbox: Sandbox) -> None:
    scope = {"type": "all_private_chats"}
    menus = {code: sandbox.api.commands(scope, code) for code in MENU_LANGUAGE_CODES}
    assert {c["command"] for c in menus["da"]} == {c.command for c in PARTICIPANT_MENU}
    assert {c["description"] for c in menus["da"]} >= {"Vælg sprog"}
    assert {c["description"] for c in menus["nb"]} >= {"Velg språk"}
    assert menus["no"] == menus["nb"]
    assert {c["description"] for c in menus["en"]} >= {"Choose language"}
    assert sandbox.api.commands(scope) == menus["da"]  # the default locale for everyone else


async def test_a_bot_whose_menus_telegram_refuses_starts_and_answers(
    settings: Settings, clock: FrozenClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The menus are set beside the start, not before it: Telegram failing them leaves a
    warning, not a bot that does not start."""
    pace = HumanPace()
    async with LocalBotApi(clock=pace) as api:
        api.faults.server_errors(len(MENU_LANGUAGE_CODES) + 1, status=502,
                                 methods=["setMyCommands"])
        with caplog.at_level(logging.WARNING, logger="bot.commands"):
            async with open_sandbox(settings=settings, clock=clock, api=api, pace=pace,
                                    database_url=f"sqlite:///{tmp_path / 'menus.sqlite3'}",
                                    ) as running:
                running.api.add_user(STRANGER, "Kim", language_code="en")
                await running.send_text(STRANGER, "/help")
                assert last_text(running, STRANGER).startswith("Help")
        assert api.commands({"type": "all_private_chats"}) == []
    assert "command menus not set" in caplog.text


async def test_a_failing_handler_apologises_and_logs_no_text_or_name(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from dialogs import help as help_dialog

    def broken(tr: object) -> None:
        raise ValueError("boom with secret words")

    monkeypatch.setattr(help_dialog, "help_screen", broken)
    sandbox.api.add_user(STRANGER, "Kirsten Secretname", language_code="nb")
    with caplog.at_level(logging.INFO):
        await sandbox.send_text(STRANGER, "/help")
    assert last_text(sandbox, STRANGER).startswith("Beklager, noe gikk galt hos meg.")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "update_failed" in logged
    assert "ValueError" in logged
    for private in ("secret words", "Kirsten", "Secretname", "/help", str(STRANGER)):
        assert private not in logged
