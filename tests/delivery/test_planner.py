"""The planner on both databases: idempotent, and it follows moves, cancellations, leaving."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.delivery.events import cancel_webinar, membership_changed, move_webinar
from dialogs.delivery.kinds import Kind
from dialogs.delivery.planner import PlanReport, replan_team
from storage import queries
from storage.clock import FrozenClock
from storage.models import Membership, MembershipStatus, OutboxMessage, OutboxStatus
from tests.delivery.helpers import add_members, make_team

PER_PARTICIPANT = 39  # 6 openings, 12 reminders, 6 nudges, 6 check-ins + 6 reminders, 3 evaluations


async def _outbox(session: AsyncSession) -> list[OutboxMessage]:
    return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def test_planning_twice_changes_nothing(session: AsyncSession) -> None:
    clock = FrozenClock()
    async with session.begin():
        team = await make_team(session)
        await add_members(session, team, [1, 2, 3], joined_at=clock.now())
        first = await replan_team(session, team.id, clock.now())
        second = await replan_team(session, team.id, clock.now())
    assert first == PlanReport(added=3 * PER_PARTICIPANT)
    assert second == PlanReport()
    kinds = Counter(r.kind for r in await _outbox(session))
    assert kinds[Kind.WEBINAR_REMINDER] == 3 * 12


async def test_a_moved_webinar_is_announced_once_and_its_reminders_follow(
    session: AsyncSession,
) -> None:
    clock = FrozenClock()
    async with session.begin():
        team = await make_team(session)
        await add_members(session, team, [1, 2], joined_at=clock.now())
        await replan_team(session, team.id, clock.now())
        webinar = (await queries.team_sessions(session, team.id))[1]
        old = webinar.starts_at
        new = old + timedelta(days=1, hours=1)
        await move_webinar(session, webinar.id, new, clock.now())
        await move_webinar(session, webinar.id, new, clock.now())  # told twice: no change
    rows = await _outbox(session)
    moved = [r for r in rows if r.kind == Kind.WEBINAR_MOVED]
    assert len(moved) == 2  # once per participant
    reminders = [r for r in rows if r.kind == Kind.WEBINAR_REMINDER
                 and r.payload["webinar_id"] == webinar.id]
    pending = [r for r in reminders if r.status == OutboxStatus.PENDING]
    cancelled = [r for r in reminders if r.status == OutboxStatus.CANCELLED]
    assert {r.expires_at for r in pending} == {new, new - timedelta(minutes=60)}
    assert {r.payload["starts_at"] for r in cancelled} == {old.isoformat()}
    assert len(pending) == len(cancelled) == 4


async def test_a_cancelled_webinar_cancels_its_reminders_and_check_in(
    session: AsyncSession,
) -> None:
    clock = FrozenClock()
    async with session.begin():
        team = await make_team(session)
        await add_members(session, team, [1], joined_at=clock.now())
        await replan_team(session, team.id, clock.now())
        webinar = (await queries.team_sessions(session, team.id))[2]
        await cancel_webinar(session, webinar.id, clock.now())
    rows = await _outbox(session)
    assert [r.kind for r in rows if r.status == OutboxStatus.PENDING
            and r.kind == Kind.WEBINAR_CANCELLED] == [Kind.WEBINAR_CANCELLED]
    about_three = [r for r in rows if r.payload.get("module_no") == 3
                   and r.kind in (Kind.WEBINAR_REMINDER, Kind.PREP_NUDGE, Kind.CHECKIN,
                                  Kind.CHECKIN_REMINDER)]
    assert {r.status for r in about_three} == {OutboxStatus.CANCELLED}


async def test_leaving_cancels_what_was_planned(session: AsyncSession) -> None:
    clock = FrozenClock()
    async with session.begin():
        team = await make_team(session)
        [member] = await add_members(session, team, [1], joined_at=clock.now())
        await replan_team(session, team.id, clock.now())
        membership = await session.get(Membership, member.membership_id)
        assert membership is not None
        membership.status = MembershipStatus.LEFT
        report = await membership_changed(session, member.membership_id, clock.now())
    assert report.cancelled == PER_PARTICIPANT
    assert {r.status for r in await _outbox(session)} == {OutboxStatus.CANCELLED}


async def test_joining_mid_course_sends_no_backlog(session: AsyncSession) -> None:
    clock = FrozenClock()
    async with session.begin():
        team = await make_team(session)
        late = clock.now() + timedelta(days=17)  # after webinar 2 and 3 days before webinar 3
        await add_members(session, team, [1], joined_at=late)
        await replan_team(session, team.id, late)
    rows = await _outbox(session)
    openings = sorted(r.payload["module_no"] for r in rows if r.kind == Kind.MODULE_OPEN)
    assert openings == [3, 4, 5, 6]
    assert min(r.payload["module_no"] for r in rows if r.kind == Kind.CHECKIN) == 3
    assert all(r.due_at >= late for r in rows)
