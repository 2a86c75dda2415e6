"""Who may act as instructor on what: checked in the database inside the acting transaction.

Buttons and commands only name an object (team, webinar, participant, broadcast); every
instructor use-case calls :func:`require_instructor` for the object's team before it changes
anything. A refusal is an exception, so the caller's transaction rolls back and nothing of a
refused request is stored.
"""

from __future__ import annotations

import enum

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.screen import Screen
from locales.i18n import Tr
from storage.models import Membership, MembershipStatus, Role


class RefusalReason(enum.StrEnum):
    NOT_INSTRUCTOR = "not_instructor"  # not instructor of this object's team
    NOT_FOUND = "not_found"  # the object does not exist (any more)
    NOT_IN_TEAM = "not_in_team"  # a participant who is not in this webinar's team
    NOT_STARTED = "not_started"  # attendance before the webinar began
    CANCELLED = "cancelled"  # attendance for a cancelled webinar
    TOO_LATE = "too_late"  # moving or cancelling a webinar that has begun
    IN_THE_PAST = "in_the_past"  # moving a webinar to a moment that has passed


class Refusal(Exception):
    """The presser may not do this; ``reason`` says why, in words for them."""

    def __init__(self, reason: RefusalReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def instructor_membership(
    session: AsyncSession, person_id: int, team_id: int
) -> Membership | None:
    return await session.scalar(select(Membership).where(
        Membership.person_id == person_id,
        Membership.team_id == team_id,
        Membership.role == Role.INSTRUCTOR,
        Membership.status == MembershipStatus.ACTIVE,
    ))


async def require_instructor(session: AsyncSession, person_id: int, team_id: int) -> Membership:
    membership = await instructor_membership(session, person_id, team_id)
    if membership is None:
        raise Refusal(RefusalReason.NOT_INSTRUCTOR)
    return membership


def refusal_text(tr: Tr, reason: RefusalReason) -> str:
    match reason:
        case RefusalReason.NOT_FOUND:
            return tr._("I cannot find that any more. Please start again from the command.")
        case RefusalReason.NOT_IN_TEAM:
            return tr._("That person is not in this team.")
        case RefusalReason.NOT_STARTED:
            return tr._("You can mark attendance when the webinar has started.")
        case RefusalReason.CANCELLED:
            return tr._("This webinar is cancelled.")
        case RefusalReason.TOO_LATE:
            return tr._("This webinar has already started, so it cannot be changed.")
        case RefusalReason.IN_THE_PAST:
            return tr._("That time has passed. Please write a time in the future.")
        case _:
            return tr._("Only the team's instructor can do this.")


def not_instructor_screen(tr: Tr) -> Screen:
    """For a command typed by someone who instructs no team."""
    return Screen.of(tr._(
        "This command is for course instructors. Type /help to see what I can do for you."
    ))
