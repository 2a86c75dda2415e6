"""The pure engine: item order, parsing what a person tapped or typed, the safety threshold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.questionnaires import engine, load_questionnaires
from dialogs.questionnaires.engine import InvalidAnswer, parse_answer
from dialogs.questionnaires.model import ChoiceItem, ScaleItem, TextItem, YesNoItem
from tests.dialogs.questionnaires.helpers import build, scale

REASONS = {v for k, v in vars(engine).items() if k.startswith("REASON_")}
Q = build(
    [
        scale("a", 0, 10, safety_at_or_below=1),
        {"key": "b", "type": "yesno", "text": "B?", "required": False},
        {"key": "c", "type": "choice", "text": "C?",
         "options": [{"value": 3, "label": "x"}, {"value": 0, "label": "y"}]},
        {"key": "d", "type": "text", "text": "D?", "max_length": 10, "required": False},
    ]
)  # fmt: skip


def test_next_item_is_the_first_without_an_answer_or_skip() -> None:
    assert engine.next_item(Q, {}) == Q.items[0]
    assert engine.next_item(Q, {"a": 1}) == Q.items[1]
    assert engine.next_item(Q, {"a": 1, "b": None}) == Q.items[2]  # a skip counts as done
    assert engine.next_item(Q, {"b": 1}) == Q.items[0]
    assert engine.next_item(Q, {"a": 1, "b": 1, "c": 1, "d": "x"}) is None


def test_next_item_after_a_changed_answer_carries_on_behind_it() -> None:
    # Went back from c to a and answered a again: carry on at c, not at the top.
    assert engine.next_item(Q, {"a": 1, "b": 1}, after="a") == Q.items[2]
    # Nothing open behind it: wrap round to an earlier gap.
    assert engine.next_item(Q, {"b": 1, "c": 1, "d": "x"}, after="d") == Q.items[0]


def test_previous_item() -> None:
    assert engine.previous_item(Q, "a") is None
    assert engine.previous_item(Q, "c") == Q.items[1]


@pytest.mark.parametrize(
    ("key", "raw", "value"),
    [
        ("a", "0", 0.0), ("a", "10", 10.0), ("a", " 7 ", 7.0),
        ("b", "1", 1.0), ("b", "0", 0.0), ("b", "Ja", 1.0), ("b", "nej", 0.0),
        ("b", "Nei.", 0.0), ("b", "yes", 1.0),
        ("c", "3", 3.0), ("c", "0", 0.0),
        ("d", "  fint  ", "fint"), ("d", "a\x00b\u200b", "ab"), ("d", "e\u0301", "é"),
    ],
)  # fmt: skip
def test_answers_that_are_understood(key: str, raw: str, value: float | str) -> None:
    item = Q.item(key)
    assert item is not None
    assert parse_answer(item, raw) == value


@pytest.mark.parametrize(
    ("key", "raw", "reason"),
    [
        ("a", "seven", engine.REASON_NOT_A_NUMBER), ("a", "7.5", engine.REASON_NOT_A_NUMBER),
        ("a", "11", engine.REASON_OUT_OF_RANGE), ("a", "-1", engine.REASON_OUT_OF_RANGE),
        ("a", "٣", engine.REASON_NOT_A_NUMBER), ("a", "9" * 50, engine.REASON_NOT_A_NUMBER),
        ("b", "maybe", engine.REASON_USE_BUTTONS), ("b", "2", engine.REASON_USE_BUTTONS),
        ("c", "2", engine.REASON_USE_BUTTONS), ("c", "x", engine.REASON_USE_BUTTONS),
        ("d", "   ", engine.REASON_EMPTY), ("d", "x" * 11, engine.REASON_TOO_LONG),
    ],
)  # fmt: skip
def test_answers_that_are_refused_say_why(key: str, raw: str, reason: str) -> None:
    item = Q.item(key)
    assert item is not None
    with pytest.raises(InvalidAnswer) as caught:
        parse_answer(item, raw)
    assert caught.value.reason == reason


@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused_never_crashes(raw: str) -> None:
    for item in Q.items:
        try:
            value = parse_answer(item, raw)
        except InvalidAnswer as exc:
            reason = exc.reason
            value = None
        else:
            reason = None
        if reason is not None:
            assert reason in REASONS
            continue
        if isinstance(item, TextItem):
            assert isinstance(value, str)
            assert 0 < len(value) <= item.max_length
        else:
            assert value in getattr(item, "values", ())


def test_the_safety_check_fires_at_or_below_the_threshold_only() -> None:
    a = Q.items[0]
    assert isinstance(a, ScaleItem)
    fired = [v for v in a.values if engine.needs_safety_message(Q, a, float(v))]
    assert fired == [0, 1]
    assert not engine.needs_safety_message(Q, a, None)
    # Items without a threshold never fire.
    assert not any(engine.needs_safety_message(Q, Q.items[2], v) for v in (0.0, 3.0))
    assert not engine.needs_safety_message(Q, Q.items[3], "0")


def test_the_shipped_safety_items_fire_for_their_lowest_answer_and_not_otherwise() -> None:
    for q in load_questionnaires().values():
        for item in q.items:
            if not isinstance(item, ScaleItem | ChoiceItem | YesNoItem):
                continue
            threshold = item.safety_at_or_below
            for value in item.values:
                fires = engine.needs_safety_message(q, item, float(value))
                assert fires == (threshold is not None and value <= threshold)
            if threshold is not None:
                assert engine.needs_safety_message(q, item, float(min(item.values)))
                assert not engine.needs_safety_message(q, item, float(max(item.values)))
