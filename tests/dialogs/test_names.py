"""Display names look like what they are, and alike names are told apart."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.names import MAX_NAME_LENGTH, clean_name, look_alike, told_apart


@pytest.mark.parametrize("name", ["Søren", "Åse Ærø", "Bjørn-Åge", "Nguyễn Thị", "Zoë", "O'Neil"])
def test_real_names_are_kept_as_written(name: str) -> None:
    assert clean_name(name) == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("Kim\u034f", "Kim"),  # combining grapheme joiner: invisible
        ("Ole\u200b\u200d", "Ole"),  # zero-width space and joiner
        ("\u202eKim", "Kim"),  # right-to-left override
        ("Ｊｏｈｎ", "John"),  # full-width letters
        ("𝓚𝓲𝓶", "Kim"),  # styled maths letters
        ("  Anna   Maria ", "Anna Maria"),
        ("\u0301Kim", "Kim"),  # a mark with no letter to sit on
        ("Z\u0301\u0302\u0303\u0304\u0305\u0306oe", "Z\u0301\u0302\u0303oe"),  # no mark towers
    ],
)
def test_what_cannot_be_seen_is_removed(typed: str, shown: str) -> None:
    assert clean_name(typed) == unicodedata.normalize("NFC", shown)


@pytest.mark.parametrize("blank", ["\u3164", "\u3164\u3164", "\u2800", "\u200b", "\u115f",
                                   "\ufe0f", "🙂", "   ", "\u0301\u0302"])
def test_a_name_that_looks_blank_is_refused(blank: str) -> None:
    assert clean_name(blank) is None


def test_three_people_who_look_like_kim_are_three_lines_for_the_instructor() -> None:
    kim, joiner, cyrillic = "Kim", clean_name("Kim\u034f"), clean_name("K\u0456m")
    assert cyrillic != kim  # kept as the person wrote it …
    assert look_alike(kim, cyrillic or "")  # … but seen as alike
    shown = told_apart([(1, kim), (2, joiner), (3, cyrillic), (4, "Anna"), (5, None)])
    assert shown == {1: "Kim (1)", 2: "Kim (2)", 3: "K\u0456m (3)", 4: "Anna", 5: None}
    assert len({shown[1], shown[2], shown[3]}) == 3


def test_different_names_get_no_numbers() -> None:
    assert told_apart([(1, "Søren"), (2, "Soren"), (3, "Anne"), (4, "Anna")]) == {
        1: "Søren", 2: "Soren", 3: "Anne", 4: "Anna"}


@given(st.text(max_size=80))
def test_a_cleaned_name_is_stable_visible_and_short(raw: str) -> None:
    name = clean_name(raw)
    if name is None:
        return
    assert clean_name(name) == name
    assert 0 < len(name) <= MAX_NAME_LENGTH
    assert name == name.strip()
    assert any(ch.isalpha() for ch in name)
    assert not any(unicodedata.category(ch)[0] == "C" for ch in name)


@pytest.mark.parametrize(("first", "second"), [
    ("Kim", "K\u0456m"),  # Cyrillic і
    ("Anna", "\u0410nna"),  # Cyrillic А
    ("Jonas", "J\u03bfnas"),  # Greek ο
    ("Kim", "Kirn"),  # r n reads as m
    ("Ole", "0le"),  # the digit zero
    ("Lise", "LISE"),
])
def test_names_unicode_calls_confusable_look_alike(first: str, second: str) -> None:
    assert look_alike(first, second)
    assert look_alike(second, first)


@pytest.mark.parametrize(("first", "second"), [
    ("Søren", "Soren"), ("Anne", "Anna"), ("Zoë", "Zoe"), ("Mette", "Mete"), ("Åse", "Ase"),
])
def test_different_names_do_not_look_alike(first: str, second: str) -> None:
    assert not look_alike(first, second)


def test_the_look_alike_table_is_unicodes_own() -> None:
    """dialogs/confusables.txt is Unicode's UTS #39 data file, shipped with its terms of use."""
    from importlib.resources import files

    head = (files("dialogs") / "confusables.txt").read_text(encoding="utf-8-sig")[:600]
    assert "Unicode Security Mechanisms for UTS #39" in head
    assert "terms_of_use" in head
