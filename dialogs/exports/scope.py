"""What an export may contain: the municipalities (and teams) the requester may see, and when.

Resolving a scope is the one place that turns names into ids and checks grants, so every
dataset query filters on ids the requester was allowed, never on names they typed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.models import Municipality, Team


class ExportError(ValueError):
    """A request the requester can correct (unknown or ungranted municipality, bad dates)."""


@dataclass(frozen=True)
class ExportScope:
    """Which rows an export holds.

    `since` (inclusive) and `until` (exclusive) are aware datetimes; `None` is open-ended.
    Questionnaire data is dated by when the response was started (so a response is never
    split), plans by creation, attendance by the webinar's start, progress by opening (or
    completion), prompts by their due time. `participants` is never date-filtered: it is the
    denominator.
    """

    municipality_ids: frozenset[int]
    team_ids: frozenset[int] | None = None
    since: datetime | None = None
    until: datetime | None = None
    # Free-text answers and action-plan wording are health data that may name people.
    free_text: bool = True

    def __post_init__(self) -> None:
        if not self.municipality_ids:
            raise ExportError("an export needs at least one municipality")
        if self.team_ids is not None and not self.team_ids:
            raise ExportError("an empty team filter would export nothing")
        for moment in (self.since, self.until):
            if moment is not None and moment.utcoffset() is None:
                raise ExportError("export dates must be timezone-aware")
        if self.since and self.until and self.since >= self.until:
            raise ExportError("the start of the date range must be before its end")

    def describe(self) -> dict[str, Any]:
        """The scope as plain JSON values, for the audit log."""
        return {
            "municipality_ids": sorted(self.municipality_ids),
            "team_ids": sorted(self.team_ids) if self.team_ids is not None else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "free_text": self.free_text,
        }


async def resolve_scope(
    session: AsyncSession,
    *,
    municipalities: Sequence[str],
    teams: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    free_text: bool = True,
    allowed_municipality_ids: Collection[int] | None = None,
) -> ExportScope:
    """A scope from names. `allowed_municipality_ids=None` means every municipality (an operator
    on the command line); otherwise a name outside the allowed set is refused like an unknown
    one, so a coordinator cannot probe which municipalities exist."""
    if not municipalities:
        raise ExportError("name at least one municipality")
    allowed = None if allowed_municipality_ids is None else set(allowed_municipality_ids)
    ids: set[int] = set()
    for name in municipalities:
        municipality = await queries.get_municipality_by_name(session, name)
        if municipality is None or (allowed is not None and municipality.id not in allowed):
            raise ExportError(f"no municipality called {name!r} that you may export")
        ids.add(municipality.id)
    team_ids: set[int] | None = None
    if teams:
        team_ids = set()
        for name in teams:
            found = list(await session.scalars(
                select(Team.id).where(Team.name == name, Team.municipality_id.in_(ids))
            ))
            if not found:
                raise ExportError(f"no team called {name!r} in the municipalities named")
            team_ids.update(found)
    return ExportScope(frozenset(ids), frozenset(team_ids) if team_ids is not None else None,
                       since, until, free_text)


async def coordinator_scope(
    session: AsyncSession,
    person_id: int,
    *,
    municipalities: Sequence[str] = (),
    teams: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    free_text: bool = True,
) -> ExportScope:
    """A coordinator's scope: only municipalities with an active grant; none named = all of
    them. Raises ExportError for a person without grants."""
    grants = await queries.active_coordinator_grants(session, person_id)
    allowed = {grant.municipality_id for grant in grants}
    if not allowed:
        raise ExportError("you coordinate no municipality")
    if not municipalities:
        names = await session.scalars(
            select(Municipality.name).where(Municipality.id.in_(allowed)).order_by(
                Municipality.name)
        )
        municipalities = list(names)
    return await resolve_scope(
        session, municipalities=municipalities, teams=teams, since=since, until=until,
        free_text=free_text, allowed_municipality_ids=allowed,
    )
