"""Display names: what a person may be called, and telling alike names apart.

A name is shown to the person's instructor and team, so it must look like what it is. People
paste names with invisible characters, combining marks that hide in a font, or letters from
another script that look the same: three different people shown as ``Kim``, ``Kim͏`` (U+034F)
and ``Kіm`` (Cyrillic і), or a name of only U+3164 that looks blank. :func:`clean_name` keeps a
name as the person wrote it, minus what cannot be seen; :func:`told_apart` adds a short number
to names in one team that look alike: Unicode TR39's skeletons, made from Unicode's own
``confusables.txt`` (version 13.0, shipped next to this module with its terms of use).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Hashable, Sequence
from functools import cache
from importlib.resources import files
from typing import TypeVar

MAX_NAME_LENGTH = 40
# Combining marks allowed on one letter: enough for every real orthography, too few to stack
# marks into a tower ("Zalgo" text) that covers the names around it.
MAX_MARKS_PER_LETTER = 3

# Unicode's Default_Ignorable_Code_Point (DerivedCoreProperties.txt): rendered as nothing.
_IGNORABLE_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
# Letters and symbols that render blank in common fonts though they are not ignorable.
_BLANK_LOOKING = frozenset({0x2800, 0x3000, 0x1D159, 0x2005F})

K = TypeVar("K", bound=Hashable)


def _invisible(ch: str) -> bool:
    code = ord(ch)
    if code in _BLANK_LOOKING or any(lo <= code <= hi for lo, hi in _IGNORABLE_RANGES):
        return True
    # Controls, format characters (zero-width, bidi overrides), unassigned, private use.
    return unicodedata.category(ch)[0] == "C"


def clean_name(raw: str) -> str | None:
    """The name as it will be shown, or None when nothing visible and letter-like is left.

    NFKC folds compatibility look-alikes (full-width letters, ligatures, styled maths letters)
    into ordinary ones; invisible characters go; combining marks stay only on a letter and at
    most :data:`MAX_MARKS_PER_LETTER` of them; white space is single spaces.
    """
    # Decomposed, so every accent is a mark of its own to count.
    text = unicodedata.normalize("NFKD", raw)
    kept: list[str] = []
    marks_on_letter = 0
    for ch in text:
        if _invisible(ch):
            continue
        if unicodedata.category(ch).startswith("M"):
            on_a_letter = bool(kept) and (kept[-1].isalpha() or marks_on_letter > 0)
            if not on_a_letter or marks_on_letter >= MAX_MARKS_PER_LETTER:
                continue
            marks_on_letter += 1
        else:
            marks_on_letter = 0
        kept.append(ch)
    name = unicodedata.normalize("NFC", " ".join("".join(kept).split()))
    if not name or len(name) > MAX_NAME_LENGTH or not any(ch.isalpha() for ch in name):
        return None
    return name


def look_alike(first: str, second: str) -> bool:
    """Whether two names could be taken for each other on a phone screen: the same skeleton
    (UTS #39, section 4), letter case aside: before (``KIM``, ``kim``) and after (a prototype
    may be a capital: the digit ``0`` looks like ``O``)."""
    return _looks(first) == _looks(second)


def _looks(name: str) -> str:
    """What the name looks like: its case-folded skeleton, equal for names that look alike."""
    prototypes = _prototypes()
    decomposed = unicodedata.normalize("NFD", name.casefold())
    return unicodedata.normalize(
        "NFD", "".join(prototypes.get(ch, ch) for ch in decomposed)).casefold()


@cache
def _prototypes() -> dict[str, str]:
    """Each character of ``confusables.txt`` and the prototype it looks like, read on the first
    comparison: about 6,300 short strings, ~1.5 MB. (The ``confusables`` package used before
    kept a two-way map of every pair: 18.6 MB in each worker that had shown a roster.)"""
    table: dict[str, str] = {}
    # Line by line: the whole file as one string would leave its 0.7 MB in the heap's high water.
    with (files("dialogs") / "confusables.txt").open(encoding="utf-8-sig") as lines:
        for line in lines:
            fields = line.split("#", 1)[0].split(";")
            if len(fields) < 2:
                continue
            table[_characters(fields[0])] = _characters(fields[1])
    return table


def _characters(codes: str) -> str:
    return "".join(chr(int(code, 16)) for code in codes.split())


def told_apart(names: Sequence[tuple[K, str | None]]) -> dict[K, str | None]:
    """Each name as the instructor sees it: names that look alike get " (1)", " (2)" … in the
    order given (joining order), so three people called "Kim" are three lines to tell apart."""
    shown: dict[K, str | None] = {key: name for key, name in names}
    # Looking alike is "the same skeleton": each name's is worked out once, not once a pair.
    groups: dict[str, list[K]] = {}
    for key, name in names:
        if name is not None:
            groups.setdefault(_looks(name), []).append(key)
    for group in groups.values():
        if len(group) > 1:
            for number, key in enumerate(group, start=1):
                shown[key] = f"{shown[key]} ({number})"
    return shown
