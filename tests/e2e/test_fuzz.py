"""Fuzzing the whole bot: random streams of updates from many people, through the real
Application and the local Bot API.

Invariants, for every update: no unhandled exception reaches the error handler; every action
a person takes in a private chat is answered (a message, an edit, or a callback answer); and
the bot never writes to a chat other than the one the acting person wrote in.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.local_api import LocalBotApi
from bot.sandbox import HumanPace, open_sandbox
from bot.settings import Settings
from storage.clock import FrozenClock
from tests.figures import record_figure

from .helpers import make_team

PEOPLE = tuple(range(20_001, 20_009))
GROUP = -100_777
STREAMS = 40
STREAM_LENGTH = 50  # 40 × 50 = 2,000 updates in all

COMMANDS = ("/start", "/help", "/course", "/progress", "/settings", "/plan", "/language",
            "/teams", "/failures", "/team", "/broadcast", "/sessions", "/attendance",
            "/mydata", "/delete", "/export", "/nonsense", "/start ", "/start x y")
FORGED = ("v1:md:3", "v1:md:99", "v1:ms:1:7", "v1:ms:9:0", "v1:qa:1:0:5", "v1:qa:999:99:1",
          "v1:qb:1:1", "v1:qs:1:0", "v1:qo:1", "v1:cs:1", "v1:ci:1", "v1:cr:1", "v1:ca:x",
          "v1:st:q:0000:2359", "v1:st:pause", "v1:ap:c:1:5", "v1:ap:d:1:9", "v1:lang:xx",
          "v1:ol:da:bogus", "v1:o18:en:bogus", "v1:later:1", "v1:q:start:checkin-1",
          "v0:old:button", "garbage", "v1:", "v1:ap:new:x")
odd_text = st.one_of(
    st.text(min_size=1, max_size=60),
    st.sampled_from(["שלום עולם", "مرحبا", "a\u200b\u200bb", "\u202eevil", "🙂" * 30,
                     "x" * 10_000, "<b>bold</b>", "&amp;", "   ", "0", "10", "-1"]),
)


@dataclass(frozen=True)
class Action:
    kind: str
    person: int
    payload: str = ""


actions = st.builds(
    Action,
    kind=st.sampled_from(["text", "command", "invite", "press", "press", "press", "forged",
                          "sticker", "photo", "voice", "edit", "group", "inline"]),
    person=st.sampled_from(PEOPLE),
    payload=st.one_of(odd_text, st.sampled_from(COMMANDS), st.sampled_from(FORGED)),
)


class ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


async def run_stream(stream: list[Action], tmp: Path) -> int:
    clock = FrozenClock()
    pressed: list[str] = []  # real buttons pressed in this stream, for failure messages
    pace = HumanPace()
    errors = ErrorLog()
    logging.getLogger().addHandler(errors)
    sent = 0
    try:
        async with LocalBotApi(clock=pace) as api, open_sandbox(
            settings=Settings(data_dir=tmp), database_url=f"sqlite:///{tmp / 'fuzz.sqlite3'}",
            clock=clock, api=api, pace=pace,
        ) as sandbox:
            created = await make_team(sandbox)
            for person in PEOPLE:
                api.add_user(person, f"P{person}", language_code=("da", "nb", "en")[person % 3])
            api.add_group(GROUP, "Fuzz group")
            for action in stream:
                calls_before = len(api.calls)
                update_id, done = _act(sandbox, action, created.participant_invite.code, pressed)
                sent += 1
                await sandbox.handled(update_id)
                _check_only_own_chat(api, calls_before, action.person, done)
                _check_answered(api, calls_before, action, done, pressed)
    finally:
        logging.getLogger().removeHandler(errors)
    assert not errors.records, errors.records
    return sent


def _act(sandbox, action: Action, invite_code: str, pressed: list[str]) -> tuple[int, str]:
    api = sandbox.api
    sandbox.pace.pause()
    person = action.person
    match action.kind:
        case "text":
            return api.send_text(person, action.payload or "?"), "text"
        case "command":
            command = action.payload if action.payload.startswith("/") else "/help"
            return api.send_text(person, command), "text"
        case "invite":
            return api.send_text(person, f"/start {invite_code}"), "text"
        case "press":
            messages = [m for m in api.messages_to(person) if m.buttons()]
            if not messages:
                return api.send_text(person, "/start"), "text"
            message = messages[hash(action.payload) % len(messages)]
            buttons = [b for b in message.buttons() if "callback_data" in b]
            if not buttons:
                return api.send_text(person, "/help"), "text"
            button = buttons[hash(action.payload + "b") % len(buttons)]
            pressed.append(button["callback_data"])
            return api.press_button(person, message.message_id, button["callback_data"]), "press"
        case "forged":
            messages = api.messages_to(person)
            if not messages:
                return api.send_text(person, "/start"), "text"
            data = action.payload if 0 < len(action.payload.encode()) <= 64 else "v1:md:1"
            return api.press_forged(person, messages[-1].message_id, data), "press"
        case "sticker":
            return api.send_sticker(person), "media"
        case "photo":
            return api.send_photo(person, b"\x89PNG fake"), "media"
        case "voice":
            return api.send_voice(person), "media"
        case "edit":
            own = [m for m in api.state.chat_messages(person) if not m.from_bot and m.text]
            if not own:
                return api.send_text(person, "hej"), "text"
            return api.edit_text(person, own[-1].message_id, action.payload or "edited"), "edit"
        case "group":
            return api.send_text(person, action.payload or "/help", chat_id=GROUP), "group"
        case "inline":
            return api.send_inline_query(person, action.payload[:64]), "inline"
    raise AssertionError(action.kind)


SENDING = {"sendMessage", "sendPhoto", "sendDocument", "editMessageText", "editMessageCaption",
           "editMessageReplyMarkup", "deleteMessage", "sendChatAction", "leaveChat"}


def _check_only_own_chat(api: LocalBotApi, since: int, person: int, done: str) -> None:
    own = GROUP if done == "group" else person
    for call in api.calls[since:]:
        if call.method in SENDING and "chat_id" in call.params:
            assert int(call.params["chat_id"]) == own, (
                f"{done} by {person} made the bot call {call.method} "
                f"in chat {call.params['chat_id']}"
            )


def _check_answered(
    api: LocalBotApi, since: int, action: Action, done: str, pressed: list[str]
) -> None:
    if done in ("group", "inline", "edit"):
        return  # answered in their own way, or kindly ignored; see the robustness tests
    methods = [c.method for c in api.calls[since:] if c.ok]
    if done == "press":
        assert "answerCallbackQuery" in methods, (
            f"{action} left the button spinning (last real button pressed: {pressed[-1:]})"
        )
    else:
        assert {"sendMessage", "sendPhoto", "sendDocument"} & set(methods), (
            f"{action} got no answer"
        )


def test_random_streams_of_updates_keep_every_invariant(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    handled: list[int] = []

    # No shrinking: a failing stream is printed as it is, and CI fails in seconds, not minutes.
    @settings(max_examples=STREAMS, deadline=None, derandomize=True, database=None,
              phases=(Phase.explicit, Phase.generate),
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(stream=st.lists(actions, min_size=STREAM_LENGTH, max_size=STREAM_LENGTH))
    def fuzz(stream: list[Action]) -> None:
        handled.append(asyncio.run(run_stream(stream, tmp_path_factory.mktemp("fuzz"))))

    fuzz()
    # The whole run, counted in this test: it no longer needs another to have run first.
    record_figure(f"fuzzed updates: {sum(handled)} in {len(handled)} streams")
    assert sum(handled) >= STREAMS * STREAM_LENGTH
