"""Basic query helpers."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.ids import STUDY_ID_ALPHABET, attempt_key, new_study_id
from storage.models import (
    Country,
    DialogState,
    Language,
    Membership,
    MembershipStatus,
    Municipality,
    Role,
    SessionStatus,
    Team,
)
from tests.storage.helpers import NOW, make_person, make_team


async def test_get_person_by_telegram_id(session: AsyncSession) -> None:
    async with session.begin():
        person = await make_person(session, 9_000_000_001)  # > 2^32: BigInteger matters
        assert await queries.get_person_by_telegram_id(session, 9_000_000_001) is person
        assert await queries.get_person_by_telegram_id(session, 1) is None


async def test_municipality_and_team_defaults(session: AsyncSession) -> None:
    async with session.begin():
        oslo = await queries.create_municipality(
            session, "Oslo", country=Country.NO, timezone="Europe/Oslo", now=NOW
        )
        team = await queries.create_team(
            session, oslo, "Hold A", datetime(2025, 2, 4, 19, 0), now=NOW,
            webinar_url="https://meet/x",
        )
        team_id = team.id
    session.expunge_all()
    async with session.begin():
        team = await session.scalar(select(Team).where(Team.id == team_id))
        assert team is not None
        assert oslo.default_language is Language.NB
        assert team.language is Language.NB
        assert team.timezone == "Europe/Oslo"
        assert team.reminder_offsets_minutes == [1440, 60]
        sessions = await queries.team_sessions(session, team_id)
        assert {s.status for s in sessions} == {SessionStatus.SCHEDULED}
        assert {s.duration_minutes for s in sessions} == {60}


async def test_create_municipality_rejects_unknown_zone(session: AsyncSession) -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        async with session.begin():
            await queries.create_municipality(session, "X", timezone="Mars/Olympus", now=NOW)


async def test_team_names_unique_per_municipality(session: AsyncSession) -> None:
    from sqlalchemy.exc import IntegrityError

    async with session.begin():
        team = await make_team(session, "Hold 1")
        municipality = await session.get_one(Municipality, team.municipality_id)
        await make_team(session, "Hold 1")  # same name, other municipality: fine
    with pytest.raises(IntegrityError):
        async with session.begin():
            await make_team(session, "Hold 1", municipality)


async def test_active_memberships(session: AsyncSession) -> None:
    async with session.begin():
        person = await make_person(session)
        first = await make_team(session, "Første")
        second = await make_team(session, "Anden")
        third = await make_team(session, "Tredje")
        a = await queries.add_membership(session, person, first, now=NOW)
        b = await queries.add_membership(session, person, second, Role.INSTRUCTOR, now=NOW)
        c = await queries.add_membership(session, person, third, now=NOW)
        c.status = MembershipStatus.LEFT
        person_id = person.id
    session.expunge_all()

    async with session.begin():
        active = await queries.active_memberships(session, person_id)
        assert [m.id for m in active] == [a.id, b.id]
        # Team and municipality are loaded: no lazy load (impossible in async) needed.
        assert [m.team.name for m in active] == ["Første", "Anden"]
        assert active[0].team.municipality.timezone == "Europe/Copenhagen"
        instructing = await queries.active_memberships(session, person_id, role="instructor")
        assert [m.id for m in instructing] == [b.id]


async def test_study_ids_look_right(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        m = await queries.add_membership(session, await make_person(session), team, now=NOW)
        i = await queries.add_membership(session, await make_person(session), team, "instructor",
                                         now=NOW)
    for membership, prefix in ((m, "P-"), (i, "I-")):
        assert membership.study_id.startswith(prefix)
        assert len(membership.study_id) == 8
        assert set(membership.study_id[2:]) <= set(STUDY_ID_ALPHABET)
    assert len({new_study_id() for _ in range(1000)}) == 1000


async def test_dialog_state_in_place_edits_are_saved(session: AsyncSession) -> None:
    async with session.begin():
        person = await make_person(session)
        state = DialogState(person_id=person.id, state="checkin", data={"item": 1},
                            updated_at=NOW)
        session.add(state)
    async with session.begin():
        state.data["item"] = 2
    session.expunge_all()
    async with session.begin():
        reloaded = await session.get_one(DialogState, person.id)
        assert reloaded.data == {"item": 2}


def test_attempt_key_is_keyed_and_stable() -> None:
    assert attempt_key(42, b"a") == attempt_key(42, b"a")
    assert attempt_key(42, b"a") != attempt_key(42, b"b")
    assert "42" not in attempt_key(42, b"a")
    assert len(attempt_key(42, b"a")) == 64


async def test_membership_defaults(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        membership = await queries.add_membership(session, await make_person(session), team,
                                                  now=NOW)
        loaded = await session.scalar(select(Membership).where(Membership.id == membership.id))
    assert loaded is not None
    assert loaded.status is MembershipStatus.ACTIVE
    assert loaded.joined_at == NOW  # from the caller's clock, not the wall clock
