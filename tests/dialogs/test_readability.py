"""Participant texts stay short and easy to read, in Danish and Norwegian.

The rules and how LIX is aggregated are explained in :mod:`dialogs.readability`. When a test
here fails, it lists the texts to rewrite with their figures, worst first.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pytest
from babel.messages.pofile import read_po

from dialogs.content.course import load_course
from dialogs.readability import (
    DIALOG_LIX_LIMIT,
    MAX_WORDS,
    MESSAGE_LIX_LIMIT,
    MIN_WORDS_FOR_DIALOG_LIX,
    MIN_WORDS_FOR_MESSAGE_LIX,
    TextStats,
    count_words,
    is_participant_facing,
    lix,
    pooled,
    stats,
    words,
)
from locales.i18n import Catalogs, po_path

CHECKED_LOCALES = ("da", "nb")

# -- the measure itself, on examples counted by hand --------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 6 words, 1 sentence, no word over 6 letters: 6/1 + 0.
        ("The cat sat on the mat.", TextStats(words=6, sentences=1, long_words=0)),
        # Kroppen (7) and alarmsystem (11) | beskytter (9): 7 words, 2 sentences, 3 long.
        (
            "Kroppen har et alarmsystem. Det beskytter os.",
            TextStats(words=7, sentences=2, long_words=3),
        ),
        # "e-læringen" is one word of 9 letters; so is "webinaret": 4 words, 2 long.
        ("Lav e-læringen før webinaret.", TextStats(words=4, sentences=1, long_words=2)),
        # Exactly 6 letters is not long; 7 is.
        ("Ryggen gjorde ondt", TextStats(words=3, sentences=1, long_words=0)),
        ("Ryggene gjorde ondt", TextStats(words=3, sentences=1, long_words=1)),
        # Tags, /commands, numbers, URLs and {placeholders} are not words; the heading line
        # is a sentence of its own: "Hjælp" | "Skriv eller ring" | "Læs mere på".
        (
            "<b>Hjælp</b>\nSkriv /help eller ring 70 201 201. "
            "Læs mere på https://example.dk/side.html, {name}!",
            TextStats(words=7, sentences=3, long_words=0),
        ),
        ("", TextStats()),
        ("112 · 70 201 201", TextStats()),
    ],
)
def test_counts(text: str, expected: TextStats) -> None:
    assert stats(text) == expected


@pytest.mark.parametrize(
    ("texts", "expected"),
    [
        (("The cat sat on the mat.",), 6.0),
        # 7/2 + 3 × 100/7 = 3.5 + 42.857…
        (("Kroppen har et alarmsystem. Det beskytter os.",), 3.5 + 300 / 7),
        # 4/1 + 2 × 100/4
        (("Lav e-læringen før webinaret.",), 54.0),
        # Pooled, not averaged: (2 + 4 words) / 2 sentences + 2 long × 100 / 6 words = 36.33…,
        # where the mean of the two LIX values (2.0 and 54.0) would be 28.
        (("Kort tekst.", "Meget længere sætning her."), 3 + 200 / 6),
        (("",), 0.0),
    ],
)
def test_lix(texts: tuple[str, ...], expected: float) -> None:
    assert lix(*texts) == pytest.approx(expected)


def test_words_keep_apostrophes_and_hyphens_inside_a_word() -> None:
    assert words("Kroppens e-læring, Nav's team – ikke -") == [
        "Kroppens", "e-læring", "Nav's", "team", "ikke",
    ]
    assert count_words("Se https://t.me/mestring_bot?start=abc eller skriv /start.") == 3


@pytest.mark.parametrize(
    ("paths", "participant"),
    [
        (["dialogs/help.py"], True),
        (["dialogs/instructor.py"], False),
        (["dialogs/coordinator.py", "bot/cli/main.py"], False),
        (["bot/cli/coordinator.py"], False),
        (["dialogs/staff/broadcast.py"], False),
        (["dialogs/instructor.py", "dialogs/course.py"], True),  # participants see it too
        ([], True),  # unknown: treat as participant text
    ],
)
def test_participant_facing(paths: list[str], participant: bool) -> None:
    assert is_participant_facing([(path, 1) for path in paths]) is participant


# -- the catalogs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    msgid: str
    forms: tuple[str, ...]  # the translation; several forms for a plural message
    paths: tuple[str, ...]


def participant_entries(locale: str) -> list[Entry]:
    """Translated participant-facing messages; missing or fuzzy ones are the catalog test's."""
    with po_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    entries = []
    for message in catalog:
        if not message.id or message.fuzzy or not is_participant_facing(message.locations):
            continue
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        if not all(forms):
            continue
        msgid = message.id[0] if isinstance(message.id, tuple) else message.id
        paths = tuple(dict.fromkeys(path for path, _line in message.locations))
        entries.append(Entry(msgid, tuple(forms), paths))
    return entries


def describe(text: str) -> str:
    figures = stats(text)
    return f"    LIX {figures.lix:5.1f}, {figures.words:3d} words: {text!r}"


@pytest.fixture(params=CHECKED_LOCALES)
def locale(request: pytest.FixtureRequest) -> str:
    return request.param


def test_the_catalogs_have_participant_text_to_check(locale: str) -> None:
    # Guards the other tests against passing on an empty or unreadable catalog.
    assert len(participant_entries(locale)) > 20


def test_no_message_is_too_long(locale: str) -> None:
    too_long = [
        form for entry in participant_entries(locale) for form in entry.forms
        if count_words(form) > MAX_WORDS
    ]
    assert not too_long, (
        f"{locale}: messages over {MAX_WORDS} words; split them or say less:\n"
        + "\n".join(map(describe, too_long))
    )


def test_no_long_message_is_hard_to_read(locale: str) -> None:
    hard = sorted(
        (
            form for entry in participant_entries(locale) for form in entry.forms
            if count_words(form) >= MIN_WORDS_FOR_MESSAGE_LIX and lix(form) >= MESSAGE_LIX_LIMIT
        ),
        key=lix,
        reverse=True,
    )
    assert not hard, (
        f"{locale}: messages with LIX ≥ {MESSAGE_LIX_LIMIT:.0f}; use shorter sentences and "
        "shorter words:\n" + "\n".join(map(describe, hard))
    )


def dialogs(locale: str) -> dict[str, list[str]]:
    by_file: dict[str, list[str]] = defaultdict(list)
    for entry in participant_entries(locale):
        for path in entry.paths:
            by_file[path].append(entry.forms[-1])
    return dict(by_file)


def test_every_dialog_is_easy_to_read(locale: str) -> None:
    # The table is printed (pytest shows it on failure, or with -s) so a writer sees where
    # each dialog stands, not only the ones over the limit.
    failures = []
    print(f"\n{locale}: LIX per dialog (limit {DIALOG_LIX_LIMIT:.0f})")
    for path, texts in sorted(dialogs(locale).items()):
        figures = pooled(texts)
        judged = figures.words >= MIN_WORDS_FOR_DIALOG_LIX
        note = "" if judged else " (too short to judge alone)"
        print(f"  {path:50} {figures.lix:5.1f} {figures.words:5d} words{note}")
        if judged and figures.lix >= DIALOG_LIX_LIMIT:
            failures.append(
                f"  {path}: LIX {figures.lix:.1f} over {figures.words} words; "
                "hardest texts first:\n"
                + "\n".join(map(describe, sorted(texts, key=lix, reverse=True)[:8]))
            )
    assert not failures, f"{locale}: dialogs with LIX ≥ {DIALOG_LIX_LIMIT:.0f}:\n" + "\n".join(
        failures
    )


def test_all_participant_text_together_is_easy_to_read(locale: str) -> None:
    figures = pooled(entry.forms[-1] for entry in participant_entries(locale))
    assert figures.lix < DIALOG_LIX_LIMIT, f"{locale}: LIX {figures.lix:.1f} overall"


def test_each_course_module_is_easy_to_read(locale: str) -> None:
    # A module is what a participant reads in one sitting; the data file holds all six.
    tr = Catalogs.load().tr(locale)
    failures = []
    for module in load_course().modules:
        texts = [tr._(text) for text in module.texts()]
        figures = pooled(texts)
        if figures.lix >= DIALOG_LIX_LIMIT:
            failures.append(
                f"  module {module.number}: LIX {figures.lix:.1f}\n"
                + "\n".join(map(describe, sorted(texts, key=lix, reverse=True)))
            )
    assert not failures, f"{locale}: course modules with LIX ≥ {DIALOG_LIX_LIMIT:.0f}:\n" + (
        "\n".join(failures)
    )
