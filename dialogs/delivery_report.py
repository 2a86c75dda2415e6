"""Delivery failures for coordinators: what could not be sent, by team and reason."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.screen import Screen, escape
from locales.i18n import Tr
from storage.models import Membership, OutboxMessage, OutboxStatus, Person, Role, Team


@dataclass(frozen=True)
class FailureRow:
    team_name: str
    reason: str
    count: int


@dataclass(frozen=True)
class UnreachableRow:
    team_name: str
    count: int


async def failures(
    session: AsyncSession, municipality_ids: frozenset[int]
) -> tuple[list[FailureRow], list[UnreachableRow]]:
    teams = select(Team.id).where(Team.municipality_id.in_(municipality_ids))
    failed = (await session.execute(
        select(Team.name, OutboxMessage.last_error, func.count(OutboxMessage.id))
        .join(Person, Person.id == OutboxMessage.person_id)
        .join(Membership, Membership.person_id == Person.id)
        .join(Team, Team.id == Membership.team_id)
        .where(OutboxMessage.status == OutboxStatus.FAILED, Team.id.in_(teams))
        .group_by(Team.name, OutboxMessage.last_error)
        .order_by(Team.name)
    )).all()
    unreachable = (await session.execute(
        select(Team.name, func.count(Person.id))
        .join(Membership, Membership.team_id == Team.id)
        .join(Person, Person.id == Membership.person_id)
        .where(Team.id.in_(teams), Person.unreachable_at.is_not(None),
               Membership.role == Role.PARTICIPANT)
        .group_by(Team.name)
        .order_by(Team.name)
    )).all()
    return (
        [FailureRow(team, reason or "?", count) for team, reason, count in failed],
        [UnreachableRow(team, count) for team, count in unreachable],
    )


def failures_screen(tr: Tr, failed: list[FailureRow], unreachable: list[UnreachableRow]) -> Screen:
    if not failed and not unreachable:
        return Screen.of(tr._("No delivery failures. Everyone can be reached."))
    lines = [tr._("<b>Delivery failures</b>")]
    lines += [f"• {escape(row.team_name)}: {row.count} × {escape(row.reason[:120])}"
              for row in failed]
    if unreachable:
        lines.append(tr._("<b>Blocked the bot or left Telegram</b>"))
        lines += [f"• {escape(row.team_name)}: {row.count}" for row in unreachable]
    return Screen.of("\n".join(lines))
