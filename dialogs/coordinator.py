"""Coordinator use-cases shared by the command line and (later) the chat: teams and invites."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.invites import (
    DEFAULT_STAFF_VALIDITY,
    WRONG_ROLE,
    Granted,
    InviteStatus,
    Newcomer,
    NewInvite,
    create_invite,
    create_municipality_invite,
    redeem_invite,
    revoke_invite,
)
from storage import queries
from storage.models import (
    AuditLog,
    CoordinatorGrant,
    Country,
    Invite,
    InviteRole,
    Membership,
    MembershipStatus,
    Municipality,
    Person,
    Role,
    Team,
    WebinarSession,
)

COUNTRY_TIMEZONES = {Country.DK: "Europe/Copenhagen", Country.NO: "Europe/Oslo"}
# What staff agree to: their Telegram account, name and role are stored (no health data).
STAFF_NOTICE_VERSION = "staff-2026-11"


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
            session, municipality_name, now=now, country=land,
            timezone=timezone or COUNTRY_TIMEZONES[land], default_language=language,
        )
        session.add(AuditLog(at=now, actor=actor, action="municipality.create",
                             subject=f"municipality:{municipality.id}", details={}))
    if await queries.get_team_by_name(session, municipality.id, team_name) is not None:
        raise CoordinatorError(f"{municipality_name} already has a team called {team_name!r}")
    try:
        team = await queries.create_team(
            session, municipality, team_name, first_session_local, now=now,
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


# -- roles -------------------------------------------------------------------------------------


class GrantResult(enum.StrEnum):
    GRANTED = "granted"
    ALREADY = "already"
    INVITE_INVALID = "invite_invalid"


@dataclass(frozen=True)
class Grant:
    result: GrantResult
    municipality_name: str | None = None
    invite_status: InviteStatus = InviteStatus.OK  # why, for INVITE_INVALID


async def revoke_grant(session: AsyncSession, grant_id: int, *, now: datetime, actor: str) -> None:
    grant = await session.get(CoordinatorGrant, grant_id)
    if grant is None or grant.revoked_at is not None:
        raise CoordinatorError(f"coordinator grant {grant_id} does not exist or is revoked")
    grant.revoked_at = now
    session.add(AuditLog(at=now, actor=actor, action="role.revoke",
                         subject=f"coordinator:{grant.id}",
                         details={"municipality_id": grant.municipality_id}))


async def coordinator_invites(
    session: AsyncSession, municipality_names: list[str], *, now: datetime, actor: str,
    valid_for: timedelta = DEFAULT_STAFF_VALIDITY,
) -> list[tuple[str, NewInvite]]:
    """One single-use coordinator invite per municipality."""
    made = []
    for name in municipality_names:
        municipality = await queries.get_municipality_by_name(session, name)
        if municipality is None:
            raise CoordinatorError(f"no municipality called {name!r}")
        made.append((name, await create_municipality_invite(
            session, municipality=municipality, now=now, created_by=actor, valid_for=valid_for
        )))
    return made


@dataclass(frozen=True)
class CoordinatorAdmission:
    """Redeeming a coordinator invite: a grant for the invite's municipality."""

    role: InviteRole = InviteRole.COORDINATOR
    consent_version: str = STAFF_NOTICE_VERSION

    async def refusal(
        self, session: AsyncSession, invite: Invite, person: Person | None
    ) -> str | None:
        if person is None:
            return None
        grant = await _grant(session, person.id, invite.municipality_id)
        # Nothing changes, so the single-use invite stays unused for whom it was meant.
        return GrantResult.ALREADY if grant is not None and grant.revoked_at is None else None

    async def admit(
        self, session: AsyncSession, invite: Invite, person: Person, now: datetime
    ) -> Granted:
        assert invite.municipality_id is not None
        grant = await _grant(session, person.id, invite.municipality_id)
        if grant is None:
            grant = CoordinatorGrant(person_id=person.id, municipality_id=invite.municipality_id)
            session.add(grant)
        grant.granted_at, grant.granted_by, grant.revoked_at = now, f"invite:{invite.id}", None
        await session.flush()
        return Granted(f"coordinator:{grant.id}", {"municipality_id": invite.municipality_id},
                       grant.id)


async def _grant(
    session: AsyncSession, person_id: int, municipality_id: int | None
) -> CoordinatorGrant | None:
    return await session.scalar(select(CoordinatorGrant).where(
        CoordinatorGrant.person_id == person_id,
        CoordinatorGrant.municipality_id == municipality_id,
    ))


async def accept_coordinator_invite(
    session: AsyncSession,
    *,
    code: str,
    telegram_user_id: int,
    chat_id: int,
    display_name: str | None,
    locale: str,
    now: datetime,
    throttle_secret: bytes,
) -> Grant:
    redemption = await redeem_invite(
        session, code, CoordinatorAdmission(),
        Newcomer(telegram_user_id, chat_id, locale, display_name=display_name), now,
        throttle_secret=throttle_secret)
    invite = redemption.invite
    if invite is None or invite.municipality_id is None \
            or redemption.status is not InviteStatus.OK or redemption.refusal == WRONG_ROLE:
        # The invite's own reason; a participant or instructor link opened here is no
        # coordinator invite, which is what "not found" tells.
        status = InviteStatus.UNKNOWN if redemption.refusal == WRONG_ROLE else redemption.status
        return Grant(GrantResult.INVITE_INVALID, invite_status=status)
    municipality = await session.get(Municipality, invite.municipality_id)
    name = municipality.name if municipality else None
    if redemption.refusal == GrantResult.ALREADY:
        return Grant(GrantResult.ALREADY, name)
    return Grant(GrantResult.GRANTED, name)


async def list_grants(session: AsyncSession) -> list[tuple[CoordinatorGrant, Person, str]]:
    rows = await session.execute(
        select(CoordinatorGrant, Person, Municipality.name)
        .join(Person, Person.id == CoordinatorGrant.person_id)
        .join(Municipality, Municipality.id == CoordinatorGrant.municipality_id)
        .order_by(Municipality.name, CoordinatorGrant.id)
    )
    return [(g, p, m) for g, p, m in rows.all()]


async def list_grants_plain(session: AsyncSession) -> list[tuple[str, str, str, str, str]]:
    return [
        (str(grant.id), municipality, person.display_name or "–",
         grant.granted_at.strftime("%Y-%m-%d"),
         grant.revoked_at.strftime("%Y-%m-%d") if grant.revoked_at else "")
        for grant, person, municipality in await list_grants(session)
    ]


@dataclass(frozen=True)
class TeamRow:
    municipality: str
    team: str
    first_webinar: datetime | None
    participants: int


async def team_overview(session: AsyncSession, municipality_name: str | None) -> list[TeamRow]:
    stmt = (
        select(Team, Municipality.name)
        .join(Municipality, Municipality.id == Team.municipality_id)
        .order_by(Municipality.name, Team.name)
    )
    if municipality_name:
        stmt = stmt.where(Municipality.name == municipality_name)
    rows = []
    for team, municipality in (await session.execute(stmt)).all():
        first = await session.scalar(select(func.min(WebinarSession.starts_at))
                                     .where(WebinarSession.team_id == team.id))
        count = await session.scalar(select(func.count(Membership.id)).where(
            Membership.team_id == team.id, Membership.role == Role.PARTICIPANT,
            Membership.status == MembershipStatus.ACTIVE,
        ))
        rows.append(TeamRow(municipality, team.name,
                            first.astimezone(ZoneInfo(team.timezone)) if first else None,
                            count or 0))
    return rows
