"""The planner: derive the outbox rows a participant should get from the database.

Planning is a pure function of facts (``plan_member``) plus a reconcile step that makes the
outbox match it (``replan_team``): missing rows are added, pending rows whose timing changed
are moved, pending rows no longer in the plan are cancelled, and rows already sent, expired or
failed are never touched. Running it twice changes nothing, so it runs on every relevant event
and periodically as a safety net.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.course import module_opens_at
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import PLANNED_KINDS, Kind, policy
from dialogs.delivery.timeplan import at_local, before, days_later, local_date
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

EVALUATION_OCCASIONS = ("baseline", "post", "followup")


@dataclass(frozen=True)
class WebinarFacts:
    id: int
    module_no: int
    starts_at: datetime
    duration_minutes: int
    cancelled: bool


@dataclass(frozen=True)
class MemberFacts:
    membership_id: int
    person_id: int
    chat_id: int
    joined_at: datetime
    tz: ZoneInfo
    reminder_offsets: tuple[int, ...]
    webinars: tuple[WebinarFacts, ...]


@dataclass(frozen=True)
class PlanReport:
    added: int = 0
    moved: int = 0
    cancelled: int = 0

    def __add__(self, other: PlanReport) -> PlanReport:
        return PlanReport(self.added + other.added, self.moved + other.moved,
                          self.cancelled + other.cancelled)


def checkin_occasion(module_no: int) -> str:
    return f"checkin-{module_no}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def plan_member(facts: MemberFacts, config: DeliveryConfig) -> list[outbox.NewRow]:
    """Every planned row for one participant, whatever exists already."""
    rows: list[outbox.NewRow] = []
    m = facts.membership_id

    def add(kind: Kind, key: str, due: datetime, expires: datetime | None,
            **payload: Any) -> None:
        if expires is not None and expires <= due:
            return
        payload = {"membership_id": m, **payload,
                   "plan": f"{due.isoformat()}|{expires.isoformat() if expires else ''}"}
        rows.append(outbox.NewRow(
            person_id=facts.person_id, chat_id=facts.chat_id, kind=kind,
            dedup_key=f"m{m}:{kind}:{key}", due_at=due, expires_at=expires,
            payload=payload, urgent=policy(kind).urgent,
        ))

    webinars = sorted(facts.webinars, key=lambda w: w.module_no)
    opens = [module_opens_at(w.module_no, w.starts_at, facts.joined_at, facts.tz)
             for w in webinars]
    # Joining mid-course: only the newest module already open is sent, not the backlog.
    already = [w.module_no for w, at in zip(webinars, opens, strict=True) if at <= facts.joined_at]
    newest_open = max(already, default=None)
    for i, w in enumerate(webinars):
        following = webinars[i + 1] if i + 1 < len(webinars) else None
        if opens[i] > facts.joined_at or w.module_no == newest_open:
            until = opens[i + 1] if following else w.starts_at + timedelta(days=7)
            due = max(opens[i], facts.joined_at)
            add(Kind.MODULE_OPEN, str(w.module_no), due,
                max(until, facts.joined_at + timedelta(days=1)), module_no=w.module_no,
                on_join=due == facts.joined_at)
        if w.cancelled:
            continue
        start, epoch = w.starts_at, _epoch(w.starts_at)
        if start <= facts.joined_at:
            continue  # a webinar before joining gets no reminder, nudge or check-in
        offsets = sorted({o for o in facts.reminder_offsets if o > 0}, reverse=True)
        for j, offset in enumerate(offsets):
            # A late plan sends only the most timely reminder: each one gives way to the next.
            until = before(start, offsets[j + 1], facts.tz) if j + 1 < len(offsets) else start
            due = before(start, offset, facts.tz)
            if until > facts.joined_at:
                add(Kind.WEBINAR_REMINDER, f"{w.id}:{offset}:{epoch}", max(due, facts.joined_at),
                    until, module_no=w.module_no, webinar_id=w.id,
                    starts_at=start.isoformat(), offset_minutes=offset)
        nudge = at_local(local_date(start, facts.tz) - timedelta(days=1), config.nudge_at,
                         facts.tz)
        if nudge >= facts.joined_at:
            add(Kind.PREP_NUDGE, f"{w.module_no}:{epoch}", nudge, start,
                module_no=w.module_no, webinar_id=w.id, starts_at=start.isoformat())
        checkin = start + timedelta(minutes=w.duration_minutes) + config.checkin_after_end
        checkin_until = (
            following.starts_at if following is not None and following.starts_at > checkin
            else checkin + timedelta(days=6)
        )
        occasion = checkin_occasion(w.module_no)
        add(Kind.CHECKIN, str(w.module_no), checkin, checkin_until,
            module_no=w.module_no, occasion=occasion)
        add(Kind.CHECKIN_REMINDER, str(w.module_no),
            days_later(checkin, config.checkin_reminder_after.days, facts.tz), checkin_until,
            module_no=w.module_no, occasion=occasion)

    second = next((w for w in webinars if w.module_no == 2), None)
    add(Kind.EVALUATION, "baseline", facts.joined_at,
        second.starts_at if second is not None else None, occasion="baseline", on_join=True)
    if webinars:
        last_day = local_date(webinars[-1].starts_at, facts.tz)
        post = at_local(last_day + timedelta(days=1), config.evaluation_at, facts.tz)
        followup = at_local(last_day + config.followup_after, config.evaluation_at, facts.tz)
        for occasion, due in (("post", post), ("followup", followup)):
            if due >= facts.joined_at:
                add(Kind.EVALUATION, occasion, due, due + config.evaluation_open_for,
                    occasion=occasion)
    return rows


def _webinar_facts(sessions: Sequence[WebinarSession]) -> tuple[WebinarFacts, ...]:
    return tuple(
        WebinarFacts(s.id, s.module_no, s.starts_at, s.duration_minutes,
                     s.status == SessionStatus.CANCELLED)
        for s in sorted(sessions, key=lambda s: s.module_no)
    )


async def replan_team(
    session: AsyncSession, team_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    """Make the team's planned outbox rows match the schedule and the memberships."""
    config = config or DeliveryConfig()
    team = await session.get(Team, team_id)
    if team is None:
        return PlanReport()
    webinars = _webinar_facts(list(await session.scalars(
        select(WebinarSession).where(WebinarSession.team_id == team_id))))
    members = list(await session.execute(
        select(Membership, Person)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.team_id == team_id, Membership.role == Role.PARTICIPANT)
    ))
    tz = ZoneInfo(team.timezone)
    offsets = tuple(int(o) for o in (team.reminder_offsets_minutes or []))
    desired: dict[str, outbox.NewRow] = {}
    for membership, person in members:
        if membership.status != MembershipStatus.ACTIVE or person.unreachable_at is not None:
            continue
        facts = MemberFacts(membership.id, person.id, person.chat_id, membership.joined_at, tz,
                            offsets, webinars)
        for row in plan_member(facts, config):
            desired[row.dedup_key] = row
    prefixes = tuple(f"m{membership.id}:" for membership, _ in members)
    existing = [
        row for row in await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.person_id.in_({p.id for _, p in members}),
                OutboxMessage.kind.in_(PLANNED_KINDS),
            )
        )
        if row.dedup_key.startswith(prefixes)
    ] if members else []
    return await _reconcile(session, desired, existing, now)


async def _reconcile(
    session: AsyncSession,
    desired: dict[str, outbox.NewRow],
    existing: Sequence[OutboxMessage],
    now: datetime,
) -> PlanReport:
    known = {row.dedup_key: row for row in existing}
    moved = 0
    for key, row in known.items():
        want = desired.get(key)
        if want is None or row.status != OutboxStatus.PENDING:
            continue
        # Compare the plan, not due_at: the dispatcher may have deferred the row (quiet hours,
        # pacing), and a replan must not undo that.
        if (row.payload or {}).get("plan") != want.payload["plan"]:
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id, OutboxMessage.status == OutboxStatus.PENDING)
                .values(due_at=want.due_at, expires_at=want.expires_at, payload=want.payload)
                .execution_options(synchronize_session=False)
            )
            moved += int(result.rowcount or 0)  # type: ignore[attr-defined]
    stale = [row.id for key, row in known.items()
             if key not in desired and row.status == OutboxStatus.PENDING]
    cancelled = await outbox.cancel_pending(session, reason="replanned", ids=stale) if stale else 0
    new = [row for key, row in desired.items()
           if key not in known and (row.expires_at is None or row.expires_at > now)]
    added = await outbox.add_rows(session, new, now)
    return PlanReport(added, moved, cancelled)


async def replan_person(
    session: AsyncSession, person_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    """After a person joins, leaves, returns or changes: replan every team they are in."""
    team_ids = set(await session.scalars(
        select(Membership.team_id).where(Membership.person_id == person_id)))
    report = PlanReport()
    for team_id in sorted(team_ids):
        report += await replan_team(session, team_id, now, config)
    return report


async def teams_to_plan(session: AsyncSession, now: datetime, config: DeliveryConfig) -> list[int]:
    """Teams whose plan may still produce messages (the follow-up comes months later)."""
    horizon = now - config.followup_after - config.evaluation_open_for - timedelta(days=7)
    return sorted(set(await session.scalars(
        select(WebinarSession.team_id).where(WebinarSession.starts_at >= horizon))))
