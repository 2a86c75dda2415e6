"""The planner: derive the outbox rows a participant should get from the database.

Planning is a pure function of facts (``plan_member``) plus a reconcile step that makes the
outbox match it (``replan_team``): missing rows are added, pending rows whose timing changed
are moved, pending rows no longer in the plan are cancelled, and rows already sent, expired or
failed are never touched. Running it twice changes nothing, so it runs on every relevant event
and periodically as a safety net.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.course import module_opens_at
from dialogs.delivery import keys, outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import INSTRUCTOR_KINDS, PLANNED_KINDS, Kind, policy
from dialogs.delivery.timeplan import at_local, before, days_later, local_date
from dialogs.occasion import Occasion
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
    role: Role = Role.PARTICIPANT  # an instructor gets INSTRUCTOR_KINDS, a participant the rest


@dataclass(frozen=True)
class PlanReport:
    added: int = 0
    moved: int = 0
    cancelled: int = 0

    def __add__(self, other: PlanReport) -> PlanReport:
        return PlanReport(self.added + other.added, self.moved + other.moved,
                          self.cancelled + other.cancelled)


@dataclass(frozen=True)
class Wanted:
    """One message a rule wants: what it is about (the key's parts), when, until when."""

    about: tuple[object, ...]
    due: datetime
    expires: datetime | None
    payload: dict[str, Any]


# A rule derives every message of its kind for one participant from the facts alone.
Rule = Callable[[MemberFacts, DeliveryConfig], Iterator[Wanted]]


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _in_order(facts: MemberFacts) -> list[tuple[WebinarFacts, WebinarFacts | None]]:
    """Each webinar by module number, with the one after it."""
    webinars = sorted(facts.webinars, key=lambda w: w.module_no)
    return list(zip(webinars, [*webinars[1:], None], strict=True))


def _ahead(facts: MemberFacts) -> Iterator[tuple[WebinarFacts, WebinarFacts | None]]:
    """Webinars still to come after joining and not cancelled: a webinar before joining gets
    no reminder, nudge or check-in."""
    for webinar, following in _in_order(facts):
        if not webinar.cancelled and webinar.starts_at > facts.joined_at:
            yield webinar, following


def _module_openings(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    order = _in_order(facts)
    opens = [module_opens_at(w.module_no, w.starts_at, facts.joined_at, facts.tz)
             for w, _ in order]
    # Joining mid-course: only the newest module already open is sent, not the backlog.
    newest_open = max((w.module_no for (w, _), at in zip(order, opens, strict=True)
                       if at <= facts.joined_at), default=None)
    for i, (w, following) in enumerate(order):
        if opens[i] > facts.joined_at or w.module_no == newest_open:
            until = opens[i + 1] if following else w.starts_at + timedelta(days=7)
            due = max(opens[i], facts.joined_at)
            yield Wanted((w.module_no,), due, max(until, facts.joined_at + timedelta(days=1)),
                         {"module_no": w.module_no, "on_join": due == facts.joined_at})


def _webinar_reminders(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    offsets = sorted({o for o in facts.reminder_offsets if o > 0}, reverse=True)
    for w, _ in _ahead(facts):
        start = w.starts_at
        for j, offset in enumerate(offsets):
            # A late plan sends only the most timely reminder: each one gives way to the next.
            until = before(start, offsets[j + 1], facts.tz) if j + 1 < len(offsets) else start
            due = before(start, offset, facts.tz)
            if until > facts.joined_at:
                yield Wanted((w.id, offset, _epoch(start)), max(due, facts.joined_at), until, {
                    "module_no": w.module_no, "webinar_id": w.id,
                    "starts_at": start.isoformat(), "offset_minutes": offset})


def _prep_nudges(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    for w, _ in _ahead(facts):
        nudge = at_local(local_date(w.starts_at, facts.tz) - timedelta(days=1), config.nudge_at,
                         facts.tz)
        if nudge >= facts.joined_at:
            yield Wanted((w.module_no, _epoch(w.starts_at)), nudge, w.starts_at, {
                "module_no": w.module_no, "webinar_id": w.id,
                "starts_at": w.starts_at.isoformat()})


def _checkin_window(w: WebinarFacts, following: WebinarFacts | None,
                    config: DeliveryConfig) -> tuple[datetime, datetime]:
    """From just after the webinar until the next one begins (or six days at most)."""
    checkin = w.starts_at + timedelta(minutes=w.duration_minutes) + config.checkin_after_end
    if following is not None and following.starts_at > checkin:
        return checkin, following.starts_at
    return checkin, checkin + timedelta(days=6)


def _checkins(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    for w, following in _ahead(facts):
        due, until = _checkin_window(w, following, config)
        yield Wanted((w.module_no,), due, until, {
            "module_no": w.module_no, "occasion": str(Occasion.checkin(w.module_no))})


def _checkin_reminders(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    for w, following in _ahead(facts):
        checkin, until = _checkin_window(w, following, config)
        due = days_later(checkin, config.checkin_reminder_after.days, facts.tz)
        yield Wanted((w.module_no,), due, until, {
            "module_no": w.module_no, "occasion": str(Occasion.checkin(w.module_no))})


def _evaluations(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    webinars = [w for w, _ in _in_order(facts)]
    second = next((w for w in webinars if w.module_no == 2), None)
    baseline = Occasion.BASELINE
    yield Wanted((baseline,), facts.joined_at, second.starts_at if second is not None else None,
                 {"occasion": str(baseline), "on_join": True})
    if not webinars:
        return
    last_day = local_date(webinars[-1].starts_at, facts.tz)
    post = at_local(last_day + timedelta(days=1), config.evaluation_at, facts.tz)
    followup = at_local(last_day + config.followup_after, config.evaluation_at, facts.tz)
    for occasion, due in ((Occasion.POST, post), (Occasion.FOLLOWUP, followup)):
        if due >= facts.joined_at:
            yield Wanted((occasion,), due, due + config.evaluation_open_for,
                         {"occasion": str(occasion)})


def _instructor_briefings(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    for w, _ in _ahead(facts):
        yield Wanted((w.id, _epoch(w.starts_at)),
                     max(w.starts_at - config.briefing_before, facts.joined_at), w.starts_at,
                     {"module_no": w.module_no, "webinar_id": w.id,
                      "starts_at": w.starts_at.isoformat()})


def _attendance_prompts(facts: MemberFacts, config: DeliveryConfig) -> Iterator[Wanted]:
    for w, _ in _ahead(facts):
        end = w.starts_at + timedelta(minutes=w.duration_minutes)
        yield Wanted((w.id, _epoch(w.starts_at)), end, end + config.attendance_prompt_open_for,
                     {"module_no": w.module_no, "webinar_id": w.id,
                      "starts_at": w.starts_at.isoformat()})


# Every kind the planner derives from the schedule, and its rule. A new planned kind is one
# entry here (tests check that every planned kind has one).
RULES: dict[Kind, Rule] = {
    Kind.MODULE_OPEN: _module_openings,
    Kind.WEBINAR_REMINDER: _webinar_reminders,
    Kind.PREP_NUDGE: _prep_nudges,
    Kind.CHECKIN: _checkins,
    Kind.CHECKIN_REMINDER: _checkin_reminders,
    Kind.EVALUATION: _evaluations,
    Kind.INSTRUCTOR_BRIEFING: _instructor_briefings,
    Kind.ATTENDANCE_PROMPT: _attendance_prompts,
}


def plan_member(facts: MemberFacts, config: DeliveryConfig) -> list[outbox.NewRow]:
    """Every planned row for one participant, whatever exists already."""
    return [
        outbox.NewRow(
            person_id=facts.person_id, chat_id=facts.chat_id, kind=kind,
            dedup_key=keys.member(facts.membership_id, kind, *wanted.about),
            due_at=wanted.due, expires_at=wanted.expires, urgent=policy(kind).urgent,
            payload={"membership_id": facts.membership_id, **wanted.payload,
                     "plan": _plan_stamp(wanted)},
        )
        for kind, rule in RULES.items()
        if (kind in INSTRUCTOR_KINDS) == (facts.role == Role.INSTRUCTOR)
        for wanted in rule(facts, config)
        if wanted.expires is None or wanted.expires > wanted.due
    ]


def _plan_stamp(wanted: Wanted) -> str:
    """When the plan wants it: a replan compares this, not due_at (see :func:`_reconcile`)."""
    return f"{wanted.due.isoformat()}|{wanted.expires.isoformat() if wanted.expires else ''}"


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
        .where(Membership.team_id == team_id)  # participants, and instructors (INSTRUCTOR_KINDS)
    ))
    tz = ZoneInfo(team.timezone)
    offsets = tuple(int(o) for o in (team.reminder_offsets_minutes or []))
    desired: dict[str, outbox.NewRow] = {}
    for membership, person in members:
        if membership.status != MembershipStatus.ACTIVE or person.unreachable_at is not None:
            continue
        facts = MemberFacts(membership.id, person.id, person.chat_id, membership.joined_at, tz,
                            offsets, webinars, membership.role)
        for row in plan_member(facts, config):
            desired[row.dedup_key] = row
    prefixes = tuple(keys.member_prefix(membership.id) for membership, _ in members)
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
