"""Coordinator use-cases shared by the command line and (later) the chat: teams and invites."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.invites import NewInvite, create_invite, revoke_invite
from storage import queries
from storage.models import AuditLog, Country, Invite, InviteRole, Municipality, Team

COUNTRY_TIMEZONES = {Country.DK: "Europe/Copenhagen", Country.NO: "Europe/Oslo"}


class CoordinatorError(ValueError):
    """A request a coordinator can correct (unknown team, bad date …); message says how."""


@dataclass(frozen=True)
class CreatedTeam:
    team: Team
    municipality: Municipality
    session_starts: list[datetime]
    participant_invite: NewInvite
    instructor_invite: NewInvite


async def create_team_with_invites(
    session: AsyncSession,
    *,
    municipality_name: str,
    team_name: str,
    first_session_local: datetime,
    webinar_url: str | None,
    language: str | None,
    country: str | None,
    timezone: str | None,
    now: datetime,
    actor: str,
) -> CreatedTeam:
    municipality = await queries.get_municipality_by_name(session, municipality_name)
    if municipality is None:
        land = Country(country or "DK")
        municipality = await queries.create_municipality(
            session, municipality_name, country=land,
            timezone=timezone or COUNTRY_TIMEZONES[land], default_language=language,
        )
        session.add(AuditLog(at=now, actor=actor, action="municipality.create",
                             subject=f"municipality:{municipality.id}", details={}))
    if await queries.get_team_by_name(session, municipality.id, team_name) is not None:
        raise CoordinatorError(f"{municipality_name} already has a team called {team_name!r}")
    try:
        team = await queries.create_team(
            session, municipality, team_name, first_session_local,
            timezone=timezone, language=language, webinar_url=webinar_url,
        )
    except ValueError as exc:
        raise CoordinatorError(str(exc)) from None
    session.add(AuditLog(at=now, actor=actor, action="team.create", subject=f"team:{team.id}",
                         details={"municipality_id": municipality.id}))
    participant = await create_invite(session, team=team, role=InviteRole.PARTICIPANT, now=now,
                                      created_by=actor)
    instructor = await create_invite(session, team=team, role=InviteRole.INSTRUCTOR, now=now,
                                     created_by=actor)
    starts = [s.starts_at for s in await queries.team_sessions(session, team.id)]
    return CreatedTeam(team, municipality, starts, participant, instructor)


async def find_team(session: AsyncSession, municipality_name: str, team_name: str) -> Team:
    municipality = await queries.get_municipality_by_name(session, municipality_name)
    if municipality is None:
        raise CoordinatorError(f"no municipality called {municipality_name!r}")
    team = await queries.get_team_by_name(session, municipality.id, team_name)
    if team is None:
        raise CoordinatorError(f"{municipality_name} has no team called {team_name!r}")
    return team


async def new_team_invite(
    session: AsyncSession,
    *,
    municipality_name: str,
    team_name: str,
    role: InviteRole,
    valid_for: timedelta | None,
    now: datetime,
    actor: str,
) -> NewInvite:
    team = await find_team(session, municipality_name, team_name)
    return await create_invite(session, team=team, role=role, now=now, created_by=actor,
                               valid_for=valid_for)


async def revoke(session: AsyncSession, invite_id: int, *, now: datetime, actor: str) -> None:
    if not await revoke_invite(session, invite_id, now=now, actor=actor):
        raise CoordinatorError(f"invite {invite_id} does not exist or is already revoked")


async def team_invites(session: AsyncSession, team: Team) -> list[Invite]:
    return list(await session.scalars(
        select(Invite).where(Invite.team_id == team.id).order_by(Invite.id)
    ))
