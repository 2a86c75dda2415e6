"""A participant marks a module's coping tool as helping them, for their own /summary.

The mark is theirs alone (DESIGN.md §4): it sits under their membership, so /mydata exports it
and /delete erases it through the same schema walk as their answers, and no staff screen or
research export reads it. A second tap takes the mark away again.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.course import default_course, open_row, participant_membership
from locales.i18n import Tr
from storage.bulk import insert_ignoring
from storage.models import HelpfulTool


class ToolMark(enum.StrEnum):
    MARKED = "marked"
    UNMARKED = "unmarked"
    LOCKED = "locked"
    NOT_A_PARTICIPANT = "not_a_participant"


async def helpful_modules(session: AsyncSession, membership_id: int) -> frozenset[int]:
    return frozenset(await session.scalars(
        select(HelpfulTool.module_no).where(HelpfulTool.membership_id == membership_id)
    ))


async def is_helpful(session: AsyncSession, person_id: int, module_no: int) -> bool:
    membership = await participant_membership(session, person_id)
    return membership is not None and module_no in await helpful_modules(session, membership.id)


async def toggle_helpful(
    session: AsyncSession, person_id: int, module_no: int, now: datetime
) -> ToolMark:
    """Mark the tool of an opened module as helpful, or take the mark away."""
    membership = await participant_membership(session, person_id)
    if membership is None:
        return ToolMark.NOT_A_PARTICIPANT
    if await open_row(session, membership, module_no, now) is None:
        return ToolMark.LOCKED
    removed = await session.scalar(
        delete(HelpfulTool)
        .where(HelpfulTool.membership_id == membership.id, HelpfulTool.module_no == module_no)
        .returning(HelpfulTool.id)
        .execution_options(synchronize_session=False)
    )
    if removed is not None:
        return ToolMark.UNMARKED
    # Two taps at the same moment both find nothing to remove: the second insert does nothing.
    await insert_ignoring(
        session, HelpfulTool,
        [{"membership_id": membership.id, "module_no": module_no, "marked_at": now}],
        ["membership_id", "module_no"])
    return ToolMark.MARKED


def toggled_text(tr: Tr, result: ToolMark, module_no: int) -> str:
    """The short answer to the tool button, shown as a notification."""
    match result:
        case ToolMark.MARKED:
            tool = tr._(default_course().module(module_no).tool.name)
            return tr._("Good to know! “{tool}” is now in your /summary.", tool=tool)
        case ToolMark.UNMARKED:
            return tr._("Taken out of your /summary again.")
        case ToolMark.LOCKED:
            return tr._("Module {number} has not opened yet.", number=module_no)
        case _:
            return tr._("This button belongs to a course you are not in.")
