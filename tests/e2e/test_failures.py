"""Every failure reaches the person: one kind apology in the language they chose, delivered
also after the button was answered, and nothing else — no fallback answering the same update.

The failures are injected into the database the real bot uses, through the real Application
and the local Bot API.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from bot.errors import apology_screen
from bot.local_api import ApiCall
from bot.sandbox import Sandbox

from .helpers import LANGUAGE_BUTTON, WORDS, make_team, texts

KIM = 9301  # Telegram says English; she chose Norwegian
IDA = 9302  # an instructor
APOLOGY_NB = "Beklager, noe gikk galt"
# What a person sees when a handler did something (not a spinner or a typing indicator).
VISIBLE = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText",
           "editMessageReplyMarkup", "editMessageCaption", "deleteMessage"}


@contextmanager
def database_fails(sandbox: Sandbox, table: str, error: str = "disk I/O error",
                   times: int | None = None) -> Iterator[list[str]]:
    """Every statement that names ``table`` fails (``times`` times, or always)."""
    failed: list[str] = []

    def fail(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if table in statement and (times is None or len(failed) < times):
            failed.append(statement)
            raise sqlite3.OperationalError(error)

    engine = sandbox.engine.sync_engine
    event.listen(engine, "before_cursor_execute", fail)
    try:
        yield failed
    finally:
        event.remove(engine, "before_cursor_execute", fail)


async def kim_chooses_norwegian(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(KIM, "Kim", language_code="en")
    await sandbox.send_text(KIM, f"/start {created.participant_invite.code}")
    await sandbox.press(KIM, "Norsk bokmål")  # not the preselected English
    words = WORDS["nb"]
    for label in (words.next, words.agree, words.adult, words.use_name.format(name="Kim")):
        await sandbox.press(KIM, label)


def calls_since(sandbox: Sandbox, mark: int) -> list[ApiCall]:
    """What reached Telegram since ``mark``: a call refused by flood control (429) and then
    retried reached nobody, so only its retry counts."""
    return [c for c in sandbox.api.calls[mark:]
            if c.method != "getUpdates" and c.error_code != 429]


def assert_one_apology(sandbox: Sandbox, mark: int, chat: int, words: str) -> None:
    calls = calls_since(sandbox, mark)
    shown = [c for c in calls if c.method in VISIBLE]
    assert [c.method for c in shown] == ["sendMessage"], [c.method for c in calls]
    assert words in shown[0].params["text"]
    assert all(c.ok for c in calls), [(c.method, c.description) for c in calls if not c.ok]
    assert texts(sandbox, chat)[-1] == shown[0].params["text"]


async def test_a_failing_button_gets_one_apology_in_the_chosen_language(
    sandbox: Sandbox,
) -> None:
    await kim_chooses_norwegian(sandbox)
    mark = len(sandbox.api.calls)
    with database_fails(sandbox, "module_progress") as failed:
        await sandbox.press(KIM, WORDS["nb"].prepared)
    assert failed
    assert_one_apology(sandbox, mark, KIM, APOLOGY_NB)
    answers = [c for c in calls_since(sandbox, mark) if c.method == "answerCallbackQuery"]
    assert len(answers) == 1  # the spinner stops; the words come as a message


async def test_a_failing_command_gets_one_apology_and_no_fallback(sandbox: Sandbox) -> None:
    await kim_chooses_norwegian(sandbox)
    mark = len(sandbox.api.calls)
    with database_fails(sandbox, "module_progress"):
        await sandbox.send_text(KIM, "/course")
    assert_one_apology(sandbox, mark, KIM, APOLOGY_NB)


async def test_a_failure_after_the_button_was_answered_still_reaches_the_person(
    sandbox: Sandbox,
) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(KIM, "Kim", language_code="nb")
    await sandbox.send_text(KIM, f"/start {created.participant_invite.code}")
    for label in (LANGUAGE_BUTTON["nb"], WORDS["nb"].next, WORDS["nb"].agree):
        await sandbox.press(KIM, label)
    mark = len(sandbox.api.calls)
    # Joining answers the button first, then stores: the store fails.
    with database_fails(sandbox, "consents"):
        await sandbox.press(KIM, WORDS["nb"].adult)
    calls = calls_since(sandbox, mark)
    assert [c.method for c in calls if c.method == "answerCallbackQuery"] == [
        "answerCallbackQuery"]
    assert_one_apology(sandbox, mark, KIM, APOLOGY_NB)


@pytest.mark.parametrize("command", ["/team", "/mydata"])
async def test_a_failing_staff_or_privacy_handler_does_not_fall_through(
    sandbox: Sandbox, command: str
) -> None:
    created = await make_team(sandbox)
    sandbox.api.add_user(IDA, "Ida", language_code="da")
    await sandbox.send_text(IDA, f"/start {created.instructor_invite.code}")
    await sandbox.press(IDA, "Jeg accepterer")
    mark = len(sandbox.api.calls)
    with database_fails(sandbox, "attendance" if command == "/team" else "consents"):
        await sandbox.send_text(IDA, command)
    # Before, the dialogs' "I did not understand" followed the apology.
    assert_one_apology(sandbox, mark, IDA, "Undskyld, der gik noget galt")


async def test_when_even_the_person_cannot_be_loaded_the_apology_guesses_kindly(
    sandbox: Sandbox,
) -> None:
    await kim_chooses_norwegian(sandbox)
    mark = len(sandbox.api.calls)
    with database_fails(sandbox, "persons"):
        await sandbox.send_text(KIM, "/help")
    # Storage is down, so her choice is unknown: Telegram's language is the best guess.
    en = apology_screen(sandbox.services.catalogs.tr("en")).text
    assert_one_apology(sandbox, mark, KIM, en)


async def test_a_passing_lock_is_tried_again_and_the_person_sees_only_the_answer(
    sandbox: Sandbox,
) -> None:
    await kim_chooses_norwegian(sandbox)
    mark = len(sandbox.api.calls)
    with database_fails(sandbox, "module_progress", error="database is locked",
                        times=2) as failed:
        await sandbox.press(KIM, WORDS["nb"].prepared)
    assert len(failed) == 2
    calls = calls_since(sandbox, mark)
    assert not [c for c in calls if c.method == "sendMessage"]  # no apology
    assert sandbox.api.last_message_to(KIM).button_texts()[-1].startswith("✓ ")
