"""Adding a kind of message means one entry per table: these tests say which one is missing."""

from __future__ import annotations

from dialogs.delivery import keys, planner
from dialogs.delivery.kinds import (
    ANNOUNCED_KINDS,
    PLANNED_KINDS,
    POLICIES,
    InstructorKind,
    Kind,
)
from dialogs.outbox_render import RENDERERS

EVERY_KIND = {*Kind, *InstructorKind}


def test_every_kind_has_a_renderer_and_a_policy() -> None:
    assert set(RENDERERS) == EVERY_KIND
    assert set(POLICIES) == EVERY_KIND


def test_every_kind_is_planned_by_a_rule_or_announced_by_an_event() -> None:
    assert set(planner.RULES) == PLANNED_KINDS
    assert set(Kind) == PLANNED_KINDS | ANNOUNCED_KINDS
    assert not PLANNED_KINDS & ANNOUNCED_KINDS


def test_an_announcement_key_names_its_webinar_and_no_other_key_does() -> None:
    key = keys.webinar_announcement(7, Kind.WEBINAR_MOVED, 42, "1799999999")
    assert keys.announced_webinar(key) == 42
    assert key.startswith(keys.member_prefix(7))
    assert keys.announced_webinar(keys.checkin_prompt(7, 3)) is None
    assert keys.announced_webinar(keys.member(7, Kind.PREP_NUDGE, 2, 1799999999)) is None
    assert keys.announced_webinar(keys.asked_later(42)) is None
