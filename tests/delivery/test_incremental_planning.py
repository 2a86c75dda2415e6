"""Planning proportional to change, on both databases: each event plans only what it touches,
and the result is always what planning the whole team from scratch would give; the periodic
safety net finds nothing to do when nothing changed and repairs what changed behind its back."""

from __future__ import annotations

import re
from dataclasses import fields, replace
from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.delivery import planner
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.events import cancel_webinar, membership_changed, move_webinar
from dialogs.delivery.kinds import PLANNED_KINDS, Kind
from dialogs.delivery.planner import (
    PlanReport,
    Stale,
    replan_members,
    replan_team,
    stale_plans,
)
from storage import queries
from storage.clock import FrozenClock
from storage.models import Membership, MembershipStatus, OutboxMessage, OutboxStatus, WebinarSession
from tests.delivery.helpers import add_members, make_team

PER_PARTICIPANT = 39


async def _snapshot(session: AsyncSession) -> list[tuple[object, ...]]:
    return [tuple(r) for r in await session.execute(
        select(OutboxMessage.dedup_key, OutboxMessage.status, OutboxMessage.due_at,
               OutboxMessage.expires_at).order_by(OutboxMessage.dedup_key))]


async def _full_replan_changes_nothing(session: AsyncSession, team_id: int,
                                       now: datetime) -> None:
    before = await _snapshot(session)
    assert await replan_team(session, team_id, now) == PlanReport()
    assert await _snapshot(session) == before


async def test_each_event_leaves_the_outbox_as_planning_the_whole_team_would(
    session: AsyncSession,
) -> None:
    clock = FrozenClock()
    now = clock.now()
    async with session.begin():
        team = await make_team(session)
        first, *_ = await add_members(session, team, [1, 2, 3], joined_at=now)
        assert await replan_team(session, team.id, now) == PlanReport(added=3 * PER_PARTICIPANT)

        # A join plans the newcomer's rows, and only theirs.
        [newcomer] = await add_members(session, team, [4], joined_at=now)
        assert await membership_changed(session, newcomer.membership_id, now) == PlanReport(
            added=PER_PARTICIPANT)
        await _full_replan_changes_nothing(session, team.id, now)

        # A moved webinar moves its own rows and announces the move.
        webinars = await queries.team_sessions(session, team.id)
        report = await move_webinar(session, webinars[1].id,
                                    webinars[1].starts_at + timedelta(days=1, hours=2), now)
        assert report.moved > 0
        assert report.added >= 4  # the announcements, at least
        await _full_replan_changes_nothing(session, team.id, now)

        # A cancelled webinar cancels its reminders, nudge and check-in.
        report = await cancel_webinar(session, webinars[2].id, now)
        assert report.cancelled > 0
        await _full_replan_changes_nothing(session, team.id, now)

        # Leaving cancels what still waited for that person.
        await session.execute(update(Membership).where(Membership.id == first.membership_id)
                              .values(status=MembershipStatus.LEFT))
        report = await membership_changed(session, first.membership_id, now)
        assert report.cancelled > 0
        assert await session.scalar(select(OutboxMessage.id).where(
            OutboxMessage.person_id == first.person_id, OutboxMessage.kind.in_(PLANNED_KINDS),
            OutboxMessage.status == OutboxStatus.PENDING)) is None
        await _full_replan_changes_nothing(session, team.id, now)
        assert await stale_plans(session, now, DeliveryConfig()) == []


@pytest.mark.parametrize("teams_per_read", [planner.SAFETY_NET_TEAMS, 1])
async def test_the_safety_net_finds_nothing_when_nothing_changed_and_repairs_the_rest(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch, teams_per_read: int,
) -> None:
    # The net reads a few teams at a time; with one, each team is read on its own.
    monkeypatch.setattr(planner, "SAFETY_NET_TEAMS", teams_per_read)
    clock = FrozenClock()
    now = clock.now()
    config = DeliveryConfig()
    async with session.begin():
        quiet = await make_team(session, name="Hold 1")
        await add_members(session, quiet, [1, 2], joined_at=now)
        busy = await make_team(session, name="Hold 2")
        members = await add_members(session, busy, [3, 4], joined_at=now)
        for team in (quiet, busy):
            await replan_team(session, team.id, now)
        assert await stale_plans(session, now, config) == []

        # A webinar moved by a path that told the planner nothing (an operator's SQL).
        webinar = (await queries.team_sessions(session, busy.id))[3]
        new_start = webinar.starts_at + timedelta(hours=3)
        await session.execute(update(WebinarSession).where(WebinarSession.id == webinar.id)
                              .values(starts_at=new_start))
        stale = await stale_plans(session, now, config)
        assert stale == [Stale(busy.id, tuple(m.membership_id for m in members))]

        report = await replan_members(session, busy.id, stale[0].membership_ids, now, config)
        assert report.moved > 0
        assert await stale_plans(session, now, config) == []
        reminders = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.kind == Kind.WEBINAR_REMINDER,
            OutboxMessage.payload["webinar_id"].as_integer() == webinar.id,
            OutboxMessage.status == OutboxStatus.PENDING)))
        assert len(reminders) == 2 * 2
        assert {r.payload["starts_at"] for r in reminders} == {new_start.isoformat()}
        await _full_replan_changes_nothing(session, busy.id, now)


async def test_only_a_planning_knob_makes_the_safety_net_replan(session: AsyncSession) -> None:
    clock = FrozenClock()
    now = clock.now()
    config = DeliveryConfig()
    async with session.begin():
        team = await make_team(session)
        members = await add_members(session, team, [1, 2], joined_at=now)
        await replan_team(session, team.id, now, config)

        # Sending faster or in bigger batches changes no planned row: nothing to replan.
        faster = replace(config, batch_size=200, send_rate_per_second=None, concurrency=32,
                         quiet_start=time(22, 0))
        assert await stale_plans(session, now, faster) == []

        # Briefings an hour earlier are a different plan for everyone in the team.
        earlier = replace(config, briefing_before=config.briefing_before + timedelta(hours=1))
        assert await stale_plans(session, now, earlier) == [
            Stale(team.id, tuple(m.membership_id for m in members))]


def test_the_digest_covers_every_knob_the_planner_reads() -> None:
    # A rule that starts reading a knob not in PLANNING would not be replanned when it changes.
    source = Path(planner.__file__).read_text(encoding="utf-8")
    read = set(re.findall(r"\bconfig\.([a-z_]+)\b", source)) - {"planning_facts"}
    assert read, "the planner reads its knobs as config.<name>"
    assert read <= set(DeliveryConfig.PLANNING)
    assert set(DeliveryConfig.PLANNING) <= {f.name for f in fields(DeliveryConfig)}
