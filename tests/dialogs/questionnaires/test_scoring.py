"""Scoring rules as data: property tests for reverse items, minimum answered, missing values."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.questionnaires import engine
from dialogs.questionnaires.model import Questionnaire
from tests.dialogs.questionnaires.helpers import build, scale


@dataclass(frozen=True)
class Case:
    q: Questionnaire
    ranges: dict[str, tuple[int, int]]
    values: dict[str, float | None]


@st.composite
def cases(draw: st.DrawFn, method: str | None = None) -> Case:
    n = draw(st.integers(1, 8))
    ranges: dict[str, tuple[int, int]] = {}
    for i in range(n):
        lo = draw(st.integers(-3, 5))
        ranges[f"i{i}"] = (lo, lo + draw(st.integers(1, 10)))
    keys = list(ranges)
    rule = {
        "key": "s",
        "method": method or draw(st.sampled_from(["sum", "mean"])),
        "items": keys,
        "reverse": draw(st.lists(st.sampled_from(keys), unique=True)),
        "multiply": draw(st.sampled_from([1.0, 0.5, 4.0, 20.0, -1.0])),
        "min_answered": draw(st.none() | st.integers(1, n)),
    }
    q = build([scale(k, lo, hi) for k, (lo, hi) in ranges.items()], [rule])
    values: dict[str, float | None] = {
        k: draw(st.none() | st.integers(lo, hi).map(float)) for k, (lo, hi) in ranges.items()
    }
    return Case(q, ranges, values)


def expected(case: Case) -> float | None:
    """The rule written out the plain way, to hold the engine against."""
    rule = case.q.scores[0]
    answered = []
    for key in rule.items:
        value = case.values[key]
        if value is None:
            continue
        lo, hi = case.ranges[key]
        answered.append(lo + hi - value if key in rule.reverse else value)
    needed = rule.min_answered if rule.min_answered is not None else len(rule.items)
    if len(answered) < needed:
        return None
    total = sum(answered)
    return (total if rule.method == "sum" else total / len(answered)) * rule.multiply


@given(cases())
def test_a_score_follows_its_rule(case: Case) -> None:
    got = engine.score(case.q, case.values)["s"]
    want = expected(case)
    assert (got is None) == (want is None)
    if want is not None:
        assert got == pytest.approx(want)


@given(cases())
def test_no_score_below_min_answered_and_a_score_at_or_above(case: Case) -> None:
    rule = case.q.scores[0]
    answered = sum(v is not None for v in case.values.values())
    got = engine.score(case.q, case.values)["s"]
    assert (got is None) == (answered < rule.needed)


@given(cases())
def test_missing_absent_and_none_are_the_same(case: Case) -> None:
    present = {k: v for k, v in case.values.items() if v is not None}
    assert engine.score(case.q, present) == engine.score(case.q, case.values)


@given(cases(), st.randoms(use_true_random=False))
def test_the_order_of_items_does_not_change_a_score(case: Case, rnd: random.Random) -> None:
    rule = case.q.scores[0]
    shuffled_items = list(rule.items)
    rnd.shuffle(shuffled_items)
    shuffled_values = list(case.values.items())
    rnd.shuffle(shuffled_values)
    other = case.q.model_copy(
        update={"scores": (rule.model_copy(update={"items": tuple(shuffled_items)}),)}
    )
    a = engine.score(case.q, case.values)["s"]
    b = engine.score(other, dict(shuffled_values))["s"]
    assert a == b  # fsum: exactly equal, not just close


@given(cases())
def test_a_reverse_item_scores_as_min_plus_max_minus_the_answer(case: Case) -> None:
    rule = case.q.scores[0]
    # Flip every answer by hand and drop `reverse`: the score must not change.
    flipped = {
        k: (None if v is None else (
            case.ranges[k][0] + case.ranges[k][1] - v if k in rule.reverse else v))
        for k, v in case.values.items()
    }  # fmt: skip
    plain = case.q.model_copy(update={"scores": (rule.model_copy(update={"reverse": ()}),)})
    a = engine.score(case.q, case.values)["s"]
    b = engine.score(plain, flipped)["s"]
    assert a == b


@given(cases(method="mean"))
def test_a_mean_lies_between_the_smallest_and_largest_scored_answer(case: Case) -> None:
    rule = case.q.scores[0]
    got = engine.score(case.q, case.values)["s"]
    if got is None:
        return
    scored = [
        (case.ranges[k][0] + case.ranges[k][1] - v) if k in rule.reverse else v
        for k, v in case.values.items()
        if v is not None
    ]
    low, high = sorted((min(scored) * rule.multiply, max(scored) * rule.multiply))
    assert low - 1e-9 <= got <= high + 1e-9


@given(cases(), st.sampled_from([2.0, 4.0, 0.25]))
def test_multiply_scales_the_raw_score(case: Case, factor: float) -> None:
    rule = case.q.scores[0]
    times = case.q.model_copy(
        update={"scores": (rule.model_copy(update={"multiply": rule.multiply * factor}),)}
    )
    a = engine.score(case.q, case.values)["s"]
    b = engine.score(times, case.values)["s"]
    if a is None:
        assert b is None
    else:
        assert b == pytest.approx(a * factor)


def test_a_nan_counts_as_missing() -> None:
    q = build([scale("a"), scale("b")], [{"key": "s", "method": "mean", "items": ["a", "b"],
                                         "min_answered": 1}])  # fmt: skip
    assert engine.score(q, {"a": math.nan, "b": 4.0}) == {"s": 4.0}
    assert engine.score(q, {"a": math.nan}) == {"s": None}


def test_a_questionnaire_without_rules_has_no_scores() -> None:
    assert engine.score(build([scale("a")]), {"a": 1.0}) == {}


def test_a_nonsubstantive_answer_is_left_out_of_a_score_like_a_skip() -> None:
    q = build(
        [scale("a", 1, 4), scale("b", 1, 4),
         {"key": "c", "type": "choice", "text": "C?",
          "options": [{"value": 1, "label": "Low"}, {"value": 4, "label": "High"},
                      {"value": 9, "label": "I don't know", "nonsubstantive": True}]}],
        [{"key": "s", "method": "mean", "items": ["a", "b", "c"], "min_answered": 2}],
    )  # fmt: skip
    assert engine.score(q, {"a": 1.0, "b": 4.0, "c": 9.0}) == {"s": 2.5}
    assert engine.score(q, {"a": 1.0, "b": None, "c": 9.0}) == {"s": None}  # 1 of 2 needed
    assert engine.score(q, {"a": 1.0, "b": 1.0, "c": 4.0}) == {"s": 2.0}


def test_an_item_needs_at_least_one_substantive_option() -> None:
    with pytest.raises(ValueError, match="substantive"):
        build([{"key": "c", "type": "choice", "text": "C?",
                "options": [{"value": 8, "label": "x", "nonsubstantive": True},
                            {"value": 9, "label": "y", "nonsubstantive": True}]}])
