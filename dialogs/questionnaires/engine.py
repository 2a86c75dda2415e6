"""The questionnaire engine: which item comes next, what an answer means, and the scores.

Pure functions on the models: no Telegram, no SQL, so the rules are tested on their own.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Container, Mapping

from dialogs.questionnaires.model import (
    ChoiceItem,
    Item,
    Questionnaire,
    ScaleItem,
    Score,
    TextItem,
    YesNoItem,
)

AnswerValue = float | str

# Reasons an answer is refused; the screens turn each into a kind hint.
REASON_NOT_A_NUMBER = "not_a_number"
REASON_OUT_OF_RANGE = "out_of_range"
REASON_USE_BUTTONS = "use_buttons"
REASON_EMPTY = "empty"
REASON_TOO_LONG = "too_long"
REASON_REQUIRED = "required"

_YES = frozenset({"yes", "y", "ja", "j"})
_NO = frozenset({"no", "n", "nej", "nei"})


class InvalidAnswer(ValueError):
    """An answer the item cannot hold; `reason` says why, for a kind hint."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def next_item(
    q: Questionnaire, answered: Container[str], *, after: str | None = None
) -> Item | None:
    """The first item without an answer (an answer or a skip), or None when all are done.

    With `after`, look behind that item first: someone who went back and changed an earlier
    answer carries on where they were, not at the top.
    """
    start = q.index(after) + 1 if after is not None else 0
    for item in (*q.items[start:], *q.items[:start]):
        if item.key not in answered:
            return item
    return None


def previous_item(q: Questionnaire, current_key: str) -> Item | None:
    index = q.index(current_key)
    return q.items[index - 1] if index > 0 else None


def can_skip(item: Item) -> bool:
    return not item.required


def parse_answer(item: Item, raw: str) -> AnswerValue:
    """A button's value code or typed text as the value to store; InvalidAnswer otherwise."""
    text = _clean(raw)
    if isinstance(item, TextItem):
        if not text:
            raise InvalidAnswer(REASON_EMPTY)
        if len(text) > item.max_length:
            raise InvalidAnswer(REASON_TOO_LONG)
        return text
    if isinstance(item, YesNoItem):
        word = text.casefold().rstrip(".!")
        if word in _YES or word == "1":
            return 1.0
        if word in _NO or word == "0":
            return 0.0
        raise InvalidAnswer(REASON_USE_BUTTONS)
    number = _integer(text)
    if isinstance(item, ScaleItem):
        if number is None:
            raise InvalidAnswer(REASON_NOT_A_NUMBER)
        if not item.min <= number <= item.max:
            raise InvalidAnswer(REASON_OUT_OF_RANGE)
        return float(number)
    assert isinstance(item, ChoiceItem)
    # Option values are codes, not something a person would type: ask for a button.
    if number is None or number not in item.values:
        raise InvalidAnswer(REASON_USE_BUTTONS)
    return float(number)


def _clean(raw: str) -> str:
    # NFC so "å" typed two ways is one string; control characters (but not line breaks) out.
    text = unicodedata.normalize("NFC", raw)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text.strip()


def _integer(text: str) -> int | None:
    text = text.replace("−", "-")  # a typographic minus from some keyboards
    body = text.removeprefix("-")
    if not body.isascii() or not body.isdigit() or len(body) > 6:
        return None
    return int(text)


def needs_safety_message(q: Questionnaire, item: Item, value: AnswerValue | None) -> bool:
    """Whether this answer is at or below the item's safety threshold (from the data file)."""
    threshold = getattr(item, "safety_at_or_below", None)
    if threshold is None or value is None or isinstance(value, str) or q.item(item.key) is None:
        return False
    return value <= threshold


def is_nonsubstantive(item: Item | None, value: AnswerValue | None) -> bool:
    """Whether `value` is an answer like "I don't know" that is not a point on the item's
    dimension (marked `nonsubstantive` in the data file): scores leave it out."""
    return isinstance(item, ChoiceItem) and value in item.nonsubstantive_values


def score(q: Questionnaire, values: Mapping[str, float | None]) -> dict[str, float | None]:
    """Every score of `q` from item values (None or absent = not answered or skipped)."""
    items = {item.key: item for item in q.items}
    return {rule.key: apply_score(rule, items, values) for rule in q.scores}


def apply_score(
    rule: Score, items: Mapping[str, Item], values: Mapping[str, float | None]
) -> float | None:
    answered: list[float] = []
    for key in rule.items:
        value = values.get(key)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        if is_nonsubstantive(items.get(key), value):
            continue  # "I don't know" is missing for a score, never a number in it
        if key in rule.reverse:
            item = items[key]
            assert isinstance(item, ScaleItem)  # validated when the file was loaded
            value = item.min + item.max - value
        answered.append(float(value))
    if len(answered) < rule.needed:
        return None
    # math.fsum: the same score whatever order the items were answered in.
    total = math.fsum(answered)
    raw = total if rule.method == "sum" else total / len(answered)
    return raw * rule.multiply
