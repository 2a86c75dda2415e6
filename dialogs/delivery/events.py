"""What changes the plan: webinars moved or cancelled, people joining, leaving, returning.

Moves and cancellations are also announced, once per participant and change: the dedup key
names the webinar and its new start, so announcing the same change twice adds nothing. An
announcement goes out at once, except in the quiet hours (on the team's clock): then it waits
for their end (08:00), unless the webinar starts before that. A change made again before the
announcement went out replaces it, so twelve moves in one night are one message at 08:00.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.delivery import keys, outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind, policy
from dialogs.delivery.planner import (
    PlanReport,
    TeamFacts,
    load_teams,
    replan_membership,
    replan_person,
    replan_team,
    replan_webinars,
)
from dialogs.delivery.timeplan import quiet_until
from storage.models import (
    Membership,
    MembershipStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    SessionStatus,
    Team,
    WebinarSession,
)


def announce_at(now: datetime, starts_at: datetime, tz: ZoneInfo,
                config: DeliveryConfig | None = None) -> datetime:
    """When a change to a webinar starting at ``starts_at`` is announced, if made ``now``."""
    config = config or DeliveryConfig()
    morning = quiet_until(now, tz, config.quiet_start, config.quiet_end)
    if morning is None or starts_at <= morning:
        return now
    return morning


async def move_webinar(
    session: AsyncSession,
    webinar_id: int,
    new_start: datetime,
    now: datetime,
    config: DeliveryConfig | None = None,
) -> PlanReport:
    """Move one webinar (UTC ``new_start``), announce it and replan its reminders."""
    webinar = await session.get(WebinarSession, webinar_id)
    if webinar is None:
        raise LookupError(f"no webinar {webinar_id}")
    before = await _team_facts(session, webinar.team_id)
    if webinar.starts_at != new_start:
        webinar.moved_from = webinar.moved_from or webinar.starts_at
        webinar.starts_at = new_start
        webinar.status = SessionStatus.SCHEDULED
        webinar.updated_at = now
        webinar.calendar_sequence += 1
        await session.flush()
    return await webinar_changed(session, webinar_id, now, config, before=before)


async def cancel_webinar(
    session: AsyncSession, webinar_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    webinar = await session.get(WebinarSession, webinar_id)
    if webinar is None:
        raise LookupError(f"no webinar {webinar_id}")
    before = await _team_facts(session, webinar.team_id)
    if webinar.status != SessionStatus.CANCELLED:
        webinar.status = SessionStatus.CANCELLED
        webinar.updated_at = now
        webinar.calendar_sequence += 1
        await session.flush()
    return await webinar_changed(session, webinar_id, now, config, before=before)


async def _team_facts(session: AsyncSession, team_id: int) -> TeamFacts | None:
    return (await load_teams(session, [team_id])).get(team_id)


async def webinar_changed(
    session: AsyncSession, webinar_id: int, now: datetime, config: DeliveryConfig | None = None,
    *, before: TeamFacts | None = None,
) -> PlanReport:
    """Call after a webinar's time or status changed (by any code path): announce and replan.
    ``before``, the team's facts until the change, lets the replan touch only the rows the
    change moved; without it the whole team is replanned."""
    webinar = await session.get(WebinarSession, webinar_id)
    if webinar is None:
        return PlanReport()
    cancelled = webinar.status == SessionStatus.CANCELLED
    if webinar.starts_at <= now or (not cancelled and webinar.moved_from is None):
        return await _replan_after(session, webinar.team_id, before, now, config)
    kind = Kind.WEBINAR_CANCELLED if cancelled else Kind.WEBINAR_MOVED
    change = "cancelled" if cancelled else str(int(webinar.starts_at.timestamp()))
    team = await session.get(Team, webinar.team_id)
    assert team is not None
    due = announce_at(now, webinar.starts_at, ZoneInfo(team.timezone), config)
    members = await session.execute(
        select(Membership.id, Person.id, Person.chat_id)
        .join(Person, Person.id == Membership.person_id)
        .where(
            Membership.team_id == webinar.team_id,
            Membership.role == Role.PARTICIPANT,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.joined_at <= now,
            Person.unreachable_at.is_(None),
        )
    )
    rows = []
    for membership_id, person_id, chat_id in members:
        rows.append(outbox.NewRow(
            person_id=person_id, chat_id=chat_id, kind=kind,
            dedup_key=keys.webinar_announcement(membership_id, kind, webinar.id, change),
            due_at=due, expires_at=webinar.starts_at, urgent=policy(kind).urgent,
            payload={
                "membership_id": membership_id, "module_no": webinar.module_no,
                "webinar_id": webinar.id, "starts_at": webinar.starts_at.isoformat(),
                "moved_from": webinar.moved_from.isoformat() if webinar.moved_from else None,
            },
        ))
    # An earlier announcement of this webinar that has not gone out yet is out of date.
    fresh = {r.dedup_key for r in rows}
    pending = await session.execute(
        select(OutboxMessage.id, OutboxMessage.dedup_key).where(
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.kind.in_([Kind.WEBINAR_MOVED, Kind.WEBINAR_CANCELLED]),
        )
    )
    stale = [row_id for row_id, key in pending
             if keys.announced_webinar(key) == webinar.id and key not in fresh]
    report = PlanReport(cancelled=await outbox.cancel_pending(
        session, reason="superseded", ids=stale) if stale else 0)
    report += PlanReport(added=await outbox.add_rows(session, rows, now))
    return report + await _replan_after(session, webinar.team_id, before, now, config)


async def _replan_after(
    session: AsyncSession, team_id: int, before: TeamFacts | None, now: datetime,
    config: DeliveryConfig | None,
) -> PlanReport:
    if before is None:
        return await replan_team(session, team_id, now, config)
    return await replan_webinars(session, before, now, config)


async def membership_changed(
    session: AsyncSession, membership_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    """Call after someone joined, left or rejoined a team: plans that membership alone."""
    return await replan_membership(session, membership_id, now, config)


async def person_returned(
    session: AsyncSession, person_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    """Call when an unreachable person is back (unblocked the bot, or writes to it again):
    deliver to them once more. What was cancelled only because they could not be reached,
    and is still timely, waits for them again; the plan then adds what is missing."""
    await session.execute(
        update(Person).where(Person.id == person_id).values(unreachable_at=None)
        .execution_options(synchronize_session=False)
    )
    revived = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.person_id == person_id,
               OutboxMessage.status == OutboxStatus.CANCELLED,
               OutboxMessage.last_error.like(f"{outbox.UNREACHABLE}%"),
               or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now))
        .values(status=OutboxStatus.PENDING, last_error=None, claimed_by=None,
                claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    report = PlanReport(added=int(revived.rowcount or 0))  # type: ignore[attr-defined]
    return report + await replan_person(session, person_id, now, config)


async def person_unreachable(
    session: AsyncSession, person_id: int, now: datetime, reason: str
) -> int:
    """Telegram refuses this person (they blocked the bot): stop planning and cancel what
    waits for them, at once. Returns how many rows were cancelled."""
    return await outbox.mark_unreachable(session, person_id, now=now, reason=reason)
