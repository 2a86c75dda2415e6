"""Logs carry no message text, no names, no raw Telegram IDs and never the token."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import TypeHandler

from bot import logs
from bot.context import Services
from bot.errors import startup_failure
from bot.local_api import DEMO_TOKEN
from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings, SettingsError, load_settings
from storage.clock import FrozenClock
from tests.e2e.helpers import join, make_team, texts

ANNA = 918273645
NAME = "Zephyrine"
SECRET_TEXTS = ("my back hurts every quokka morning", "vermilion dusk walk", "/start hej Ærø")
CRASH_TEXT = "please crash on this zanzibar sentence"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure() changes global state: put every level and handler back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in logs.THIRD_PARTY_FLOORS}
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


def test_redact_blanks_tokens_and_given_secrets() -> None:
    url = f"https://api.telegram.org/bot{DEMO_TOKEN}/sendMessage"
    assert DEMO_TOKEN not in logs.redact(url)
    real_looking = "7123456789:AAHq2xYz_abcdefghijklmnopqrstuvwxyz0"
    assert real_looking not in logs.redact(f"token={real_looking}")
    assert "hunter2" not in logs.redact("postgresql://u:hunter2@db/x", ["hunter2"])
    assert logs.redact("update_id=123456 user=u1a2b3") == "update_id=123456 user=u1a2b3"


def test_the_formatter_writes_exceptions_without_their_message() -> None:
    formatter = logs.SafeFormatter([DEMO_TOKEN])
    try:
        raise ValueError(f"INSERT … parameters: ('{NAME}', '{SECRET_TEXTS[0]}')")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed row=%s", (7,),
                                   sys.exc_info())
    line = formatter.format(record)
    assert "failed row=7" in line
    assert "builtins.ValueError at test_logs.py" in line
    assert NAME not in line
    assert SECRET_TEXTS[0] not in line


def test_a_rejected_token_never_reaches_the_output() -> None:
    # PTB puts the rejected token into InvalidToken's message.
    error = InvalidToken(f"The token `{DEMO_TOKEN}` was rejected by the server.")
    assert DEMO_TOKEN not in startup_failure(error)
    assert "MESTRING_TELEGRAM_TOKEN" in startup_failure(error)
    assert DEMO_TOKEN not in startup_failure(RuntimeError(DEMO_TOKEN), secrets=[DEMO_TOKEN])
    record = logging.LogRecord("telegram.ext.Updater", logging.ERROR, __file__, 1,
                               "Exception happened while polling for updates.", (),
                               (InvalidToken, error, None))
    assert DEMO_TOKEN not in logs.SafeFormatter().format(record)


def test_settings_errors_do_not_echo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("MESTRING_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("MESTRING_TELEGRAM_TOKEN", "secret-but-malformed")
    with pytest.raises(SettingsError) as bad_token:
        load_settings()
    assert "secret-but-malformed" not in str(bad_token.value)
    monkeypatch.delenv("MESTRING_TELEGRAM_TOKEN")
    monkeypatch.setenv("MESTRING_DATABASE_URL", "mysql://user:hunter2@db/mestring")
    with pytest.raises(SettingsError) as bad_url:
        load_settings()
    assert "hunter2" not in str(bad_url.value)
    assert "MESTRING_DATABASE_URL" in str(bad_url.value)


def test_configure_sets_floors_and_does_not_double_handlers(restore_logging: None) -> None:
    logs.configure("DEBUG")
    logs.configure("DEBUG")
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h.formatter, logs.SafeFormatter)]
    assert len(ours) == 1
    assert root.level == logging.DEBUG
    assert not logging.getLogger("telegram.ext.Application").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("telegram.Bot").isEnabledFor(logging.DEBUG)
    assert not logging.getLogger("sqlalchemy.engine.Engine").isEnabledFor(logging.INFO)
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("bot.delivery.dispatcher").isEnabledFor(logging.DEBUG)
    logs.configure("WARNING")
    assert not logging.getLogger("telegram").isEnabledFor(logging.INFO)


@pytest.fixture
async def debug_sandbox(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, restore_logging: None,
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Sandbox]:
    for key in list(os.environ):
        if key.startswith("MESTRING_"):
            monkeypatch.delenv(key)
    caplog.set_level(logging.DEBUG)
    # Before the bot is built: PTB logs its API URL (with the token) when a Bot is made.
    logs.configure("DEBUG", secrets=[DEMO_TOKEN])
    clock = FrozenClock()
    async with open_sandbox(settings=Settings(data_dir=tmp_path), clock=clock,
                            database_url=f"sqlite:///{tmp_path / 'logs.sqlite3'}") as sandbox:

        async def crash(update: Update, _: object) -> None:
            message = update.effective_message
            if message is not None and message.text == CRASH_TEXT:
                raise RuntimeError(f"crashed on {message.text!r} with {DEMO_TOKEN}")

        sandbox.application.add_handler(TypeHandler(Update, crash), group=-20)
        yield sandbox


async def test_a_whole_conversation_at_debug_leaks_nothing(
    debug_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    bot = debug_sandbox
    created = await make_team(bot)
    await join(bot, ANNA, created.participant_invite.code, language="da", first_name=NAME)
    for text in SECRET_TEXTS:
        await bot.send_text(ANNA, text)
    await bot.send_text(ANNA, CRASH_TEXT)  # a handler crashes: logged, apologised
    assert any("gik noget galt" in t for t in texts(bot, ANNA)[-2:])
    assert bot.delivery is not None
    await bot.delivery.run_once()
    await bot.send_text(ANNA, "/mydata")
    await bot.send_text(ANNA, "/delete")
    await bot.press(ANNA, "Ja, slet det hele")

    records = caplog.records
    assert any(r.name.startswith("bot.") for r in records)  # our own lines are there
    assert any(r.name == "bot.errors" and "update_failed" in r.getMessage() for r in records)
    formatter = logs.SafeFormatter()
    forbidden = (*SECRET_TEXTS, CRASH_TEXT, NAME, str(ANNA), DEMO_TOKEN,
                 DEMO_TOKEN.split(":")[1])
    for record in records:
        # What reaches stderr, and the record itself (a handler without our formatter).
        shown = formatter.format(record)
        raw = record.getMessage()
        for secret in forbidden:
            assert secret not in shown, (record.name, secret)
            assert secret not in raw, (record.name, secret)


def test_pseudonyms_are_keyed_by_the_deployments_secret() -> None:
    """A reader of the logs can follow one person across lines, but cannot hash every
    Telegram ID to find who it is without the deployment's key."""
    one, other = b"a" * 32, b"b" * 32
    ref = logs.pseudonym(ANNA)
    assert ref.keyed(one) == logs.pseudonym(ANNA).keyed(one)
    assert ref.keyed(one) != logs.pseudonym(ANNA + 1).keyed(one)
    assert ref.keyed(one) != ref.keyed(other)
    record = logging.LogRecord("bot.x", logging.INFO, __file__, 1, "update user=%s", (ref,), None)
    line = logs.SafeFormatter(pseudonym_key=one).format(record)
    assert f"user={ref.keyed(one)}" in line
    assert str(ANNA) not in line
    assert record.args == (ref,)  # other handlers still get the record as it was


def test_without_a_key_pseudonyms_differ_from_process_to_process() -> None:
    """No key in the source: two processes given none hash the same ID differently."""
    script = "from bot.logs import pseudonym; print(pseudonym(918273645))"
    seen = {
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                       check=True).stdout.strip()
        for _ in range(2)
    }
    assert len(seen) == 2


def test_the_throttle_key_comes_from_the_secret_key_not_the_token(tmp_path: Path) -> None:
    def throttle_secret(secret_key: str) -> bytes:
        settings = Settings(data_dir=tmp_path, telegram_token=DEMO_TOKEN, secret_key=secret_key)
        return Services(settings=settings, sessions=None, catalogs=None,  # type: ignore[arg-type]
                        clock=FrozenClock(), questionnaires={}).throttle_secret

    assert throttle_secret("k" * 32) == throttle_secret("k" * 32)
    assert throttle_secret("k" * 32) != throttle_secret("j" * 32)
