"""Unique and CHECK constraints hold on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.ids import hash_invite_code, new_invite_code, new_study_id
from storage.models import (
    ActionPlan,
    Invite,
    InviteRole,
    Membership,
    OutboxMessage,
    Person,
    Role,
    WebinarSession,
)
from tests.storage.helpers import make_person, make_team

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


async def _expect_integrity_error(session: AsyncSession, *rows: object) -> None:
    with pytest.raises(IntegrityError):
        async with session.begin():
            session.add_all(rows)
    session.expunge_all()


async def test_study_id_is_unique(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        first = await queries.add_membership(session, await make_person(session), team, now=NOW)
        other = await make_person(session)
    await _expect_integrity_error(
        session,
        Membership(
            person_id=other.id, team_id=team.id, role="participant", study_id=first.study_id,
            joined_at=NOW,
        ),
    )


async def test_membership_role_is_unique_per_team(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        person = await make_person(session)
        await queries.add_membership(session, person, team, now=NOW)
        # Same person, other role: allowed.
        await queries.add_membership(session, person, team, Role.INSTRUCTOR, now=NOW)
    await _expect_integrity_error(
        session,
        Membership(
            person_id=person.id, team_id=team.id, role="participant", study_id=new_study_id(),
            joined_at=NOW,
        ),
    )


async def test_outbox_dedup_key_is_unique(session: AsyncSession) -> None:
    def message() -> OutboxMessage:
        return OutboxMessage(chat_id=1, kind="reminder", dedup_key="r:1:1440", due_at=NOW,
                             created_at=NOW)

    async with session.begin():
        session.add(message())
    await _expect_integrity_error(session, message())


async def test_invite_code_hash_is_unique(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
    code = new_invite_code()

    def invite() -> Invite:
        return Invite(
            team_id=team.id, role=InviteRole.PARTICIPANT, code_hash=hash_invite_code(code),
            created_at=NOW,
        )

    async with session.begin():
        session.add(invite())
    await _expect_integrity_error(session, invite())
    stored = await session.scalar(select(Invite.code_hash))
    assert stored == hash_invite_code(code)
    assert len(stored) == 64
    assert code not in stored


async def test_telegram_user_id_is_unique(session: AsyncSession) -> None:
    async with session.begin():
        await make_person(session, 77)
    await _expect_integrity_error(session, Person(telegram_user_id=77, chat_id=1, created_at=NOW))


async def test_invite_needs_a_target(session: AsyncSession) -> None:
    await _expect_integrity_error(
        session, Invite(role=InviteRole.PARTICIPANT, code_hash=hash_invite_code("x"),
                        created_at=NOW)
    )
    await _expect_integrity_error(
        session, Invite(role=InviteRole.COORDINATOR, code_hash=hash_invite_code("y"),
                        created_at=NOW)
    )


async def test_module_numbers_are_checked(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        person = await make_person(session)
        membership = await queries.add_membership(session, person, team, now=NOW)
    # A rolled-back session expires its objects: keep the ids.
    team_id, membership_id = team.id, membership.id
    await _expect_integrity_error(
        session, WebinarSession(team_id=team_id, module_no=7, starts_at=NOW, created_at=NOW,
                                updated_at=NOW)
    )
    await _expect_integrity_error(
        session, ActionPlan(membership_id=membership_id, week=1, what="x", confidence=11,
                            created_at=NOW)
    )


async def test_enum_values_are_checked_in_the_database(session: AsyncSession) -> None:
    from sqlalchemy import text

    async with session.begin():
        await make_person(session, 5)
    with pytest.raises(IntegrityError):
        async with session.begin():
            await session.execute(text("UPDATE persons SET locale = 'xx'"))


async def test_naive_datetimes_are_refused(session: AsyncSession) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with session.begin():
            session.add(
                OutboxMessage(chat_id=1, kind="x", dedup_key="n", due_at=datetime(2025, 1, 1),
                              created_at=NOW)
            )
    session.expunge_all()


async def test_datetimes_come_back_aware_utc(session: AsyncSession) -> None:
    local = datetime(2025, 7, 1, 21, 0, tzinfo=UTC) + timedelta(microseconds=123)
    async with session.begin():
        session.add(OutboxMessage(chat_id=1, kind="x", dedup_key="aware", due_at=local,
                                  created_at=NOW))
    session.expunge_all()
    loaded = await session.scalar(select(OutboxMessage))
    assert loaded is not None
    assert loaded.due_at == local
    assert loaded.due_at.tzinfo is UTC
    # Comparisons in SQL are chronological on both backends.
    later = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.due_at > NOW))
    assert later == loaded.id
