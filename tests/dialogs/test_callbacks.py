from __future__ import annotations

import importlib
import pkgutil
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram.ext import CallbackQueryHandler

import bot
import dialogs
from bot.app import handler_table
from dialogs.callbacks import (
    INT,
    MAX_BYTES,
    TEXT,
    Action,
    Callback,
    CallbackDataError,
    callback,
    decode,
    one_of,
    pattern,
)

tokens = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"),
    min_size=1,
    max_size=12,
)


@given(action=tokens, args=st.lists(tokens, max_size=3))
def test_callback_data_round_trips_within_telegrams_limit(action: str, args: list[str]) -> None:
    original = Callback(action, tuple(args))
    data = original.encode()
    assert 1 <= len(data.encode()) <= MAX_BYTES
    assert decode(data) == original


@given(st.text(max_size=80))
def test_foreign_callback_data_is_refused_not_crashed(data: str) -> None:
    try:
        decoded = decode(data)
    except CallbackDataError:
        return
    assert decoded.encode() == data


def test_too_long_callback_data_is_refused_when_made() -> None:
    with pytest.raises(ValueError, match="longer than 64 bytes"):
        callback(Action("x", TEXT), "a" * 64)


MOVE = Action("zm", INT, one_of("h", "d"))
PLAN = Action("zp", forms={"new": (INT,), "skip": ()})


@given(st.integers(-(10**12), 10**12), st.sampled_from(["h", "d"]))
def test_typed_arguments_round_trip(number: int, code: str) -> None:
    assert MOVE.parse(callback(MOVE, number, code)) == (number, code)
    assert PLAN.parse(callback(PLAN, "new", number)) == ("new", number)
    assert PLAN.parse(callback(PLAN, "skip")) == ("skip",)


@pytest.mark.parametrize(
    "data", ["v1:zm:x:h", "v1:zm:1:w", "v1:zm:1", "v1:zm:1:h:2", "v1:zp:new", "v1:zp:old:1",
             "v1:zp", "v1:zx:1:h", "v0:zm:1:h"])
def test_a_press_of_another_shape_or_type_is_refused(data: str) -> None:
    action = PLAN if data.startswith("v1:zp") else MOVE
    with pytest.raises(CallbackDataError):
        action.parse(data)


def test_a_button_that_could_not_be_read_back_is_refused_when_made() -> None:
    with pytest.raises(CallbackDataError):
        callback(MOVE, "x", "h")
    with pytest.raises(CallbackDataError):
        callback(PLAN, "skip", 1)


def test_generated_patterns_match_only_their_actions_presses() -> None:
    assert re.match(pattern(MOVE), "v1:zm:1:h")
    assert not re.match(pattern(MOVE), "v1:zmk:1:h")
    assert not re.match(pattern(MOVE), "v1:zm")
    assert re.match(pattern(Action("zz")), "v1:zz")
    assert not re.match(pattern(Action("zz")), "v1:zz:1")


def _every_action() -> dict[int, tuple[str, Action]]:
    """Every Action bound at module level anywhere in dialogs/ and bot/ (by identity)."""
    found: dict[int, tuple[str, Action]] = {}
    for package in (dialogs, bot):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if ".local_api" in info.name:
                continue
            module = importlib.import_module(info.name)
            for name, value in vars(module).items():
                if isinstance(value, Action):
                    found.setdefault(id(value), (f"{info.name}.{name}", value))
    return found


def test_action_codes_are_unique_across_the_bot() -> None:
    actions = _every_action().values()
    assert len(actions) > 30  # the walk found the dialogs' buttons
    by_code: dict[str, list[str]] = {}
    for where, action in actions:
        by_code.setdefault(action.code, []).append(where)
    assert {code: places for code, places in by_code.items() if len(places) > 1} == {}


def test_every_button_is_routed_to_exactly_one_handler() -> None:
    patterns = [
        (handler.callback.__name__, handler.pattern)
        for _, handler in handler_table()
        if isinstance(handler, CallbackQueryHandler) and handler.pattern is not None
    ]
    for where, action in _every_action().values():
        for data in action.examples():
            assert action.parse(data) is not None
            takers = [name for name, regex in patterns if regex.match(data)]
            assert len(takers) == 1, f"{where} ({data}) is handled by {takers}"
