"""Basic typed query helpers. They flush (to get ids) but never commit: the caller owns the
transaction (`async with session.begin(): ...`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from storage.ids import new_study_id
from storage.models import (
    COURSE_MODULES,
    DEFAULT_TIMEZONE,
    CoordinatorGrant,
    Country,
    Language,
    Membership,
    MembershipStatus,
    Municipality,
    Person,
    Role,
    Team,
    WebinarSession,
)

_COUNTRY_LANGUAGE = {Country.DK: Language.DA, Country.NO: Language.NB}


def zone(name: str) -> ZoneInfo:
    """ZoneInfo for an IANA name; ValueError (not a KeyError subclass) for unknown names."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def weekly_session_starts(
    first_local: datetime,
    timezone: str | ZoneInfo,
    count: int = COURSE_MODULES,
) -> list[datetime]:
    """UTC start times of `count` weekly sessions that keep the same local wall-clock time.

    `first_local` is the first session's wall-clock time in `timezone` (naive; an aware value
    is first converted into the zone). Each week is computed on the wall clock and only then
    converted, so 19:00 stays 19:00 local across daylight-saving changes while the UTC time
    moves by an hour. A wall time that does not exist that day (spring-forward gap) lands just
    after the gap; an ambiguous one (fall-back) takes its first occurrence.
    """
    tz = zone(timezone) if isinstance(timezone, str) else timezone
    if first_local.tzinfo is not None:
        first_local = first_local.astimezone(tz).replace(tzinfo=None)
    return [
        (first_local + timedelta(weeks=week)).replace(tzinfo=tz, fold=0).astimezone(UTC)
        for week in range(count)
    ]


async def get_person_by_telegram_id(session: AsyncSession, telegram_user_id: int) -> Person | None:
    return await session.scalar(select(Person).where(Person.telegram_user_id == telegram_user_id))


async def get_municipality_by_name(session: AsyncSession, name: str) -> Municipality | None:
    return await session.scalar(select(Municipality).where(Municipality.name == name))


async def get_team_by_name(session: AsyncSession, municipality_id: int, name: str) -> Team | None:
    return await session.scalar(
        select(Team).where(Team.municipality_id == municipality_id, Team.name == name)
    )


async def active_coordinator_grants(
    session: AsyncSession, person_id: int
) -> list[CoordinatorGrant]:
    """The municipalities a person may coordinate now (revoked grants left out)."""
    stmt = select(CoordinatorGrant).where(
        CoordinatorGrant.person_id == person_id, CoordinatorGrant.revoked_at.is_(None)
    )
    return list(await session.scalars(stmt))


async def create_municipality(
    session: AsyncSession,
    name: str,
    *,
    now: datetime,
    country: Country | str = Country.DK,
    timezone: str = DEFAULT_TIMEZONE,
    default_language: Language | str | None = None,
) -> Municipality:
    """Add a municipality; its language defaults to the country's (DK→da, NO→nb)."""
    zone(timezone)
    country = Country(country)
    language = Language(default_language) if default_language else _COUNTRY_LANGUAGE[country]
    municipality = Municipality(
        name=name, country=country, timezone=timezone, default_language=language, created_at=now
    )
    session.add(municipality)
    await session.flush()
    return municipality


async def create_team(
    session: AsyncSession,
    municipality: Municipality,
    name: str,
    first_session_local: datetime,
    *,
    now: datetime,
    timezone: str | None = None,
    language: Language | str | None = None,
    webinar_url: str | None = None,
    duration_minutes: int = 60,
    reminder_offsets_minutes: Sequence[int] | None = None,
    session_starts: Sequence[datetime] | None = None,
) -> Team:
    """Add a team with its six weekly webinars, the first at `first_session_local` (wall clock
    in `timezone`, default the municipality's), the rest at the same local time each week —
    or at `session_starts` (UTC, one per module) when the caller planned them (holidays)."""
    tz_name = timezone or municipality.timezone
    starts = list(session_starts) if session_starts is not None else weekly_session_starts(
        first_session_local, zone(tz_name))
    if len(starts) != COURSE_MODULES:
        raise ValueError(f"a team has {COURSE_MODULES} webinars, not {len(starts)}")
    team = Team(
        municipality_id=municipality.id,
        name=name,
        language=Language(language) if language else municipality.default_language,
        timezone=tz_name,
        webinar_url=webinar_url,
        created_at=now,
        sessions=[
            WebinarSession(module_no=no, starts_at=start, duration_minutes=duration_minutes,
                           created_at=now, updated_at=now)
            for no, start in enumerate(starts, start=1)
        ],
    )
    if reminder_offsets_minutes is not None:
        team.reminder_offsets_minutes = list(reminder_offsets_minutes)
    session.add(team)
    await session.flush()
    return team


async def add_membership(
    session: AsyncSession, person: Person, team: Team, role: Role | str = Role.PARTICIPANT, *,
    now: datetime,
) -> Membership:
    """Put a person in a team with a fresh study ID (retrying the rare collision)."""
    role = Role(role)
    for _ in range(10):
        study_id = new_study_id(role)
        taken = await session.scalar(select(Membership.id).where(Membership.study_id == study_id))
        if taken is None:
            break
    else:  # pragma: no cover - 10 collisions in a 7·10^8 space means a broken RNG
        raise RuntimeError("could not find a free study ID")
    membership = Membership(person_id=person.id, team_id=team.id, role=role, study_id=study_id,
                            joined_at=now)
    session.add(membership)
    await session.flush()
    return membership


async def active_memberships(
    session: AsyncSession, person_id: int, *, role: Role | str | None = None
) -> list[Membership]:
    """A person's active memberships, oldest first, with team and municipality loaded (async
    code cannot lazy-load them later)."""
    stmt = (
        select(Membership)
        .where(Membership.person_id == person_id, Membership.status == MembershipStatus.ACTIVE)
        .options(selectinload(Membership.team).selectinload(Team.municipality))
        .order_by(Membership.joined_at, Membership.id)
    )
    if role is not None:
        stmt = stmt.where(Membership.role == Role(role))
    return list(await session.scalars(stmt))


async def team_sessions(session: AsyncSession, team_id: int) -> list[WebinarSession]:
    """A team's webinars in module order."""
    stmt = (
        select(WebinarSession)
        .where(WebinarSession.team_id == team_id)
        .order_by(WebinarSession.module_no)
    )
    return list(await session.scalars(stmt))


async def delete_person(session: AsyncSession, person_id: int) -> bool:
    """Erase a person; the database cascades to everything they own. True if they existed.

    Objects of that person already loaded in `session` are stale afterwards; expunge or
    expire them if the session lives on.
    """
    result = await session.execute(
        delete(Person).where(Person.id == person_id).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
