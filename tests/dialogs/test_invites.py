"""Redeeming any invite is one use-case: at most once under concurrency, always audited."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dialogs.coordinator import CoordinatorAdmission, coordinator_invites
from dialogs.instructor import InstructorAdmission
from dialogs.invites import (
    Admission,
    InviteStatus,
    Newcomer,
    Redemption,
    create_invite,
    redeem_invite,
)
from dialogs.onboarding import ParticipantAdmission
from storage import queries
from storage.engine import Sessions
from storage.models import (
    AuditLog,
    Consent,
    CoordinatorGrant,
    Invite,
    InviteRole,
    Membership,
    Person,
    Role,
    Team,
)

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SECRET = b"throttle key for the tests"



async def _team(sessions: Sessions) -> Team:
    async with sessions.begin() as session:
        municipality = await queries.create_municipality(session, "Køge", now=NOW)
        return await queries.create_team(session, municipality, "Hold 3",
                                         datetime(2027, 1, 7, 19, 0), now=NOW)


async def _invite(sessions: Sessions, team: Team, role: InviteRole,
                  max_uses: int | None = None) -> str:
    async with sessions.begin() as session:
        if role is InviteRole.COORDINATOR:
            ((_, new),) = await coordinator_invites(session, ["Køge"], now=NOW, actor="test")
            return new.code
        new = await create_invite(session, team=team, role=role, now=NOW, created_by="test",
                                  max_uses=max_uses)
        return new.code


ADMISSIONS: dict[InviteRole, Admission] = {
    InviteRole.PARTICIPANT: ParticipantAdmission(),
    InviteRole.INSTRUCTOR: InstructorAdmission(),
    InviteRole.COORDINATOR: CoordinatorAdmission(),
}


async def _redeem_together(
    sessions: Sessions, code: str, role: InviteRole, people: range
) -> list[Redemption]:
    async def one(user_id: int) -> Redemption:
        async with sessions.begin() as session:
            return await redeem_invite(session, code, ADMISSIONS[role],
                                       Newcomer(user_id, user_id, "da"), NOW,
                                       throttle_secret=SECRET)

    return list(await asyncio.gather(*(one(user_id) for user_id in people)))


async def _count(sessions: Sessions, model: type, *where: object) -> int:
    async with sessions() as session:
        return await session.scalar(
            select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


@pytest.mark.parametrize("role", [InviteRole.INSTRUCTOR, InviteRole.COORDINATOR,
                                  InviteRole.PARTICIPANT])
async def test_a_single_use_invite_redeemed_by_five_at_once_is_used_once(
    sessions: Sessions, role: InviteRole
) -> None:
    team = await _team(sessions)
    code = await _invite(sessions, team, role, max_uses=1)
    results = await _redeem_together(sessions, code, role, range(5001, 5006))

    assert sum(r.redeemed for r in results) == 1
    assert sorted(r.status for r in results if not r.redeemed) == [InviteStatus.USED_UP] * 4
    assert await _count(sessions, Invite, Invite.uses == 1) == 1
    # The four who lost the race left nothing behind: no person, no consent.
    assert await _count(sessions, Person) == 1
    assert await _count(sessions, Consent) == 1
    assert await _count(sessions, AuditLog, AuditLog.action == "role.grant") == 1
    if role is InviteRole.COORDINATOR:
        assert await _count(sessions, CoordinatorGrant) == 1
    else:
        assert await _count(sessions, Membership, Membership.role == Role(role.value)) == 1


async def test_a_limited_invite_opened_by_ten_at_once_admits_exactly_its_limit(
    sessions: Sessions,
) -> None:
    team = await _team(sessions)
    code = await _invite(sessions, team, InviteRole.PARTICIPANT, max_uses=3)
    results = await _redeem_together(sessions, code, InviteRole.PARTICIPANT, range(6001, 6011))
    assert sum(r.redeemed for r in results) == 3
    assert await _count(sessions, Membership) == 3


@pytest.mark.parametrize("role", [InviteRole.PARTICIPANT, InviteRole.INSTRUCTOR,
                                  InviteRole.COORDINATOR])
async def test_every_kind_of_invite_writes_one_audit_row_without_names(
    sessions: Sessions, role: InviteRole
) -> None:
    team = await _team(sessions)
    code = await _invite(sessions, team, role)
    (result,) = await _redeem_together(sessions, code, role, range(7001, 7002))
    assert result.granted is not None
    async with sessions() as session:
        (audit,) = list(await session.scalars(select(AuditLog).where(
            AuditLog.action == "role.grant")))
    assert result.invite is not None
    assert (audit.actor, audit.subject) == (f"invite:{result.invite.id}", result.granted.subject)
    assert audit.subject.startswith(("P-", "I-", "coordinator:"))
    assert "7001" not in str(audit.details)


async def test_a_refusal_stores_nothing_and_leaves_the_invite_unused(
    sessions: Sessions,
) -> None:
    team = await _team(sessions)
    instructor_code = await _invite(sessions, team, InviteRole.INSTRUCTOR)
    participant_code = await _invite(sessions, team, InviteRole.PARTICIPANT)
    await _redeem_together(sessions, participant_code, InviteRole.PARTICIPANT, range(8001, 8002))
    # A participant of the team cannot also lead it; a participant invite is not a staff one.
    (refused,) = await _redeem_together(sessions, instructor_code, InviteRole.INSTRUCTOR,
                                        range(8001, 8002))
    (wrong,) = await _redeem_together(sessions, participant_code, InviteRole.INSTRUCTOR,
                                      range(8002, 8003))
    assert (refused.refusal, wrong.refusal) == ("participant_here", "wrong_role")
    assert await _count(sessions, Invite, Invite.role == InviteRole.INSTRUCTOR,
                        Invite.uses == 0) == 1
    assert await _count(sessions, Person) == 1
    assert await _count(sessions, AuditLog, AuditLog.action == "role.grant") == 1
