"""The kinds of message the bot sends on its own, and how each is treated.

A kind's policy answers the dispatcher's questions without knowing what the message says:
does it count towards the weekly cap, may it pass quiet hours and pauses, may pacing drop it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.StrEnum):
    MODULE_OPEN = "module_open"
    WEBINAR_REMINDER = "webinar_reminder"
    WEBINAR_MOVED = "webinar_moved"
    WEBINAR_CANCELLED = "webinar_cancelled"
    PREP_NUDGE = "prep_nudge"
    CHECKIN = "checkin"
    CHECKIN_REMINDER = "checkin_reminder"
    EVALUATION = "evaluation"


class InstructorKind(enum.StrEnum):
    """Sent because an instructor asked for it, never planned from the schedule.

    Kept apart from :class:`Kind`, whose members are the planner's: code and tests that walk
    every planned kind need not know about broadcasts.
    """

    BROADCAST = "broadcast"
    # To the instructor, once every copy of a broadcast has an outcome: sent / blocked / failed.
    BROADCAST_REPORT = "broadcast_report"


@dataclass(frozen=True)
class Policy:
    # Counts towards the weekly cap of unsolicited messages.
    paced: bool = True
    # Passes quiet hours and pauses (a cancelled webinar must reach people in time).
    urgent: bool = False
    # When the cap is reached: drop (a nudge) instead of waiting for room (a prompt).
    droppable: bool = False


POLICIES: dict[str, Policy] = {
    Kind.MODULE_OPEN: Policy(),
    Kind.WEBINAR_REMINDER: Policy(paced=False),
    Kind.WEBINAR_MOVED: Policy(paced=False, urgent=True),
    Kind.WEBINAR_CANCELLED: Policy(paced=False, urgent=True),
    Kind.PREP_NUDGE: Policy(droppable=True),
    Kind.CHECKIN: Policy(),
    Kind.CHECKIN_REMINDER: Policy(droppable=True),
    Kind.EVALUATION: Policy(),
    # A person writing to their team is not an automated nudge: it neither counts towards nor
    # waits for the weekly cap. It is not urgent either: quiet hours and pauses apply.
    InstructorKind.BROADCAST: Policy(paced=False),
    InstructorKind.BROADCAST_REPORT: Policy(paced=False),
}

# What the planner derives from the schedule (and may cancel when the plan changes).
# Announcements of moves and cancellations are made by events, never withdrawn by a replan.
PLANNED_KINDS: frozenset[str] = frozenset(
    {
        Kind.MODULE_OPEN, Kind.WEBINAR_REMINDER, Kind.PREP_NUDGE, Kind.CHECKIN,
        Kind.CHECKIN_REMINDER, Kind.EVALUATION,
    }
)
# Announced by events (a webinar moved or cancelled), once per change; never planned.
ANNOUNCED_KINDS: frozenset[str] = frozenset({Kind.WEBINAR_MOVED, Kind.WEBINAR_CANCELLED})
PACED_KINDS: frozenset[str] = frozenset(k for k, p in POLICIES.items() if p.paced)
# Kinds whose message offers "Not now".
# The kinds that ask the person to answer a questionnaire (the check-in, its reminder, the
# evaluations): what opens an occasion, and the prompts research exports report on.
QUESTIONNAIRE_PROMPT_KINDS: tuple[Kind, ...] = (
    Kind.CHECKIN, Kind.CHECKIN_REMINDER, Kind.EVALUATION,
)

PROMPT_KINDS: frozenset[str] = frozenset(
    {Kind.PREP_NUDGE, Kind.CHECKIN, Kind.CHECKIN_REMINDER, Kind.EVALUATION}
)


def policy(kind: str) -> Policy:
    return POLICIES.get(str(kind), Policy())
