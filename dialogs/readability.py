"""How easy a participant's text is to read: word counts and LIX.

Our readers live with fatigue, pain and poor concentration, so every participant-facing text
is held to two numbers, checked by ``tests/dialogs/test_readability.py`` on the Danish and
Norwegian catalogs:

* **at most 80 words** in one message (:data:`MAX_WORDS`): one idea per message;
* **LIX below 35** ("easy") for the texts of a dialog (:data:`DIALOG_LIX_LIMIT`).

LIX (Björnsson's *läsbarhetsindex*) = words / sentences + long words × 100 / words, where a long
word has more than 6 letters. It fits Danish and Norwegian, the languages it was made for.

How text is counted
    Before counting we drop what a reader does not read as prose: HTML tags, ``{placeholders}``,
    URLs, ``/commands`` and numbers (phone numbers, dates). A *word* is a run of letters; a
    hyphen or apostrophe between letters joins it (``e-læring`` is one word, as LIX counts words
    between spaces). A *sentence* ends at ``.``, ``!``, ``?``, ``:`` or a line break and holds at
    least one word, so a heading or a list line without a full stop counts as the sentence it is
    to the reader. Abbreviations with full stops (``f.eks.``) count as sentence ends: write the
    words out, which is plainer anyway.

How LIX is aggregated, and why
    The LIX of one short message jumps with a single long word ("Vælg sprog" scores 2,
    "Velkommen tilbage." 102), so a limit per short message would be noise. Instead:

    1. **Per dialog, pooled** (the rule; limit :data:`DIALOG_LIX_LIMIT` = 35): the words,
       sentences and long words of every message of a dialog are summed and LIX is taken of
       the sums, not the mean of per-message LIX values, so each message weighs as much as it
       is read. A dialog is a source file of the catalog entry's locations (a message used in
       two files counts in both). A dialog of fewer than :data:`MIN_WORDS_FOR_DIALOG_LIX` words
       (a table of labels, one button) is too small for a stable LIX and is judged only in
       the locale's total (rule 2). Course content, one data file, is also pooled per module
       (what a participant reads in one sitting).
    2. **Per locale, pooled** over every participant-facing message (same limit): nothing
       escapes the rule by living in a small file.
    3. **Per message of at least** :data:`MIN_WORDS_FOR_MESSAGE_LIX` **words** (limit
       :data:`MESSAGE_LIX_LIMIT` = 45, where "hard" starts): catches one dense message hidden in
       an otherwise easy dialog; from 10 words on, one long word moves LIX by at most 10.
    4. **Per message**, at most :data:`MAX_WORDS` words.

    Plural messages are measured in every form for rules 3 and 4, and pooled with their plural
    form only, so a message does not count twice.

Participant-facing is every catalog message with a source location outside staff modules
(paths containing ``instructor``, ``coordinator``, ``staff`` or ``bot/cli``): a message that
participants see anywhere must be easy, even if staff see it too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_WORDS = 80
DIALOG_LIX_LIMIT = 35.0
MESSAGE_LIX_LIMIT = 45.0
MIN_WORDS_FOR_MESSAGE_LIX = 10
MIN_WORDS_FOR_DIALOG_LIX = 40
LONG_WORD_LETTERS = 6  # a long word has more letters than this

STAFF_MARKERS: tuple[str, ...] = ("instructor", "coordinator", "staff", "bot/cli",
                                  "dialogs/exports")

# What a reader does not read as words. URLs first: they hold dots and slashes the other
# patterns would misread as sentence ends and commands.
_NOT_PROSE = re.compile(
    r"""
      <[^>]*>                              # HTML tag
    | \{[^{}]*\}                           # {placeholder}
    | (?:https?://|www\.|t\.me/)\S+        # URL
    | (?<![\w/])/[A-Za-z_][A-Za-z0-9_]*    # /command
    | \d+(?:[.,:]\d+)*                     # number, time, decimal
    """,
    re.VERBOSE,
)
_LETTERS = r"[^\W\d_]+"
_WORD = re.compile(rf"{_LETTERS}(?:[-'’]{_LETTERS})*")
_SENTENCE_END = re.compile(r"[.!?:]+|\n")


@dataclass(frozen=True)
class TextStats:
    """The counts LIX is made of; add them up to pool several texts."""

    words: int = 0
    sentences: int = 0
    long_words: int = 0

    def __add__(self, other: TextStats) -> TextStats:
        return TextStats(
            self.words + other.words,
            self.sentences + other.sentences,
            self.long_words + other.long_words,
        )

    @property
    def lix(self) -> float:
        if not self.words:
            return 0.0
        return self.words / self.sentences + self.long_words * 100 / self.words


def prose(text: str) -> str:
    """The text with tags, placeholders, URLs, commands and numbers taken out."""
    return _NOT_PROSE.sub(" ", text)


def words(text: str) -> list[str]:
    return _WORD.findall(prose(text))


def count_words(text: str) -> int:
    return len(words(text))


def _letters(word: str) -> int:
    return sum(ch.isalpha() for ch in word)


def stats(text: str) -> TextStats:
    found = words(text)
    sentences = sum(1 for part in _SENTENCE_END.split(prose(text)) if _WORD.search(part))
    return TextStats(
        words=len(found),
        sentences=sentences,
        long_words=sum(1 for word in found if _letters(word) > LONG_WORD_LETTERS),
    )


def pooled(texts: Iterable[str]) -> TextStats:
    """The counts of several texts together, each one ending its own sentence."""
    total = TextStats()
    for text in texts:
        total += stats(text)
    return total


def lix(*texts: str) -> float:
    """LIX of one text, or of several pooled (see the module docstring)."""
    return pooled(texts).lix


def is_staff_path(path: str) -> bool:
    return any(marker in path for marker in STAFF_MARKERS)


def is_participant_facing(locations: Iterable[tuple[str, int | None]]) -> bool:
    """Whether a catalog message is seen by participants: used outside staff modules.

    A message with no known location is treated as participant-facing: when in doubt, easy.
    """
    paths = [path for path, _line in locations]
    return not paths or not all(is_staff_path(path) for path in paths)
