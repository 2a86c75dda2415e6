"""A release that only rewords, re-types or reformats the planner replans nobody; one that
changes what a rule does replans everybody once (dialogs/delivery/rules_digest.py)."""

from __future__ import annotations

import inspect

import pytest

from dialogs.delivery import timeplan
from dialogs.delivery.rules_digest import behaviour_digest

RULE = '''
"""Reminders."""
from dataclasses import dataclass

HOURS_BEFORE = 24  # a day ahead


@dataclass(frozen=True)
class Reminder:
    """One reminder."""
    offset_hours: int
    kind: str = "webinar"


def due(start: int, hours: int = HOURS_BEFORE) -> int:
    """When the reminder is due."""
    later: int = start - hours * 3600
    return later
'''

READER_ONLY = {
    "a comment": RULE.replace("# a day ahead", "# the evening before, roughly"),
    "a docstring": RULE.replace('"""When the reminder is due."""',
                                '"""When the reminder is due, in seconds since the epoch."""'),
    "a module docstring removed": RULE.replace('"""Reminders."""\n', ""),
    "a class docstring": RULE.replace('"""One reminder."""', '"""One reminder; see kinds."""'),
    "argument and return types": RULE.replace(
        "def due(start: int, hours: int = HOURS_BEFORE) -> int",
        "def due(start: float, hours: float = HOURS_BEFORE)"),
    "a field's type": RULE.replace("offset_hours: int", "offset_hours: int | None"),
    "a local variable's type": RULE.replace("later: int =", "later: float ="),
    "layout": RULE.replace("return later", "return (\n        later\n    )").replace(
        "HOURS_BEFORE = 24", "HOURS_BEFORE = (24)"),
}

BEHAVIOUR = {
    "a constant": RULE.replace("HOURS_BEFORE = 24", "HOURS_BEFORE = 48"),
    "an operator": RULE.replace("start - hours", "start + hours"),
    "a default": RULE.replace('kind: str = "webinar"', 'kind: str = "module"'),
    "a field turned class attribute": RULE.replace(
        "offset_hours: int", "offset_hours: ClassVar[int]"),
    "a new statement": RULE.replace("    return later", "    later -= 60\n    return later"),
    "a docstring-only function given a body": RULE.replace(
        '"""When the reminder is due."""', '"""When the reminder is due."""\n    start += 1'),
}


@pytest.mark.parametrize("edit", sorted(READER_ONLY))
def test_an_edit_only_readers_see_keeps_the_digest(edit: str) -> None:
    assert READER_ONLY[edit] != RULE
    assert behaviour_digest(READER_ONLY[edit]) == behaviour_digest(RULE)


@pytest.mark.parametrize("edit", sorted(BEHAVIOUR))
def test_an_edit_to_what_the_code_does_changes_the_digest(edit: str) -> None:
    assert behaviour_digest(BEHAVIOUR[edit]) != behaviour_digest(RULE)


def test_the_planners_own_code_keeps_its_digest_through_a_reworded_comment() -> None:
    source = inspect.getsource(timeplan)
    assert "#" in source
    reworded = source.replace("# ", "# NB: ", 1)
    assert behaviour_digest(reworded) == behaviour_digest(source)
    assert behaviour_digest(source.replace(" + ", " - ", 1)) != behaviour_digest(source)


def test_each_source_counts_in_its_place() -> None:
    """Code moved from one planner module to another could change which rule runs."""
    first, second = "A = 1\n", "B = 2\n"
    assert behaviour_digest(first, second) != behaviour_digest(second, first)
    assert behaviour_digest(first + second) != behaviour_digest(first, second)
