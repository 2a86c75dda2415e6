"""The planner: derive the outbox rows a participant should get from the database.

Planning is a pure function of facts (``plan_member``) plus a reconcile step that makes the
outbox match it: missing rows are added, pending rows whose timing changed are moved, pending
rows no longer in the plan are cancelled, and rows already sent, expired or failed are never
touched. Running it twice changes nothing.

The work is proportional to what changed, not to the number of people:

* an event plans what it touches — a join or a departure that membership
  (``replan_membership``), a moved or cancelled webinar only the rows whose plan it changed
  (``replan_webinars``);
* every planned membership remembers a digest of the facts its rows were made from
  (``MemberPlan``: team, webinars, membership, the planner's own code), and the periodic safety
  net (``stale_plans``) replans only memberships whose facts no longer match — nothing at all
  when nothing changed;
* rows are read as plain tuples and written with executemany, one statement per kind of
  change.
"""

from __future__ import annotations

import hashlib
import inspect
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import course
from dialogs.course import module_opens_at
from dialogs.delivery import keys, outbox, timeplan
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import INSTRUCTOR_KINDS, PLANNED_KINDS, Kind, policy
from dialogs.delivery.rules_digest import behaviour_digest
from dialogs.delivery.timeplan import at_local, before, days_later, local_date
from dialogs.occasion import Occasion
from storage.bulk import chunked, upsert
from storage.models import (
    MemberPlan,
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

# Teams the safety net reads at a time (about 700 memberships in teams of 15).
SAFETY_NET_TEAMS = 50


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


# -- the facts, loaded in bulk ----------------------------------------------------------------
@dataclass(frozen=True)
class TeamFacts:
    """What every participant's plan in one team is made of, besides their own membership."""

    team_id: int
    tz: ZoneInfo
    reminder_offsets: tuple[int, ...]
    webinars: tuple[WebinarFacts, ...]


@dataclass(frozen=True)
class Enrolment:
    """A participant's membership as the planner sees it, and the digest it was last planned
    from (None: never planned)."""

    membership_id: int
    team_id: int
    person_id: int
    chat_id: int
    joined_at: datetime
    # Active and reachable: gets planned rows. Otherwise their pending rows are cancelled.
    planned: bool
    digest: str | None
    role: Role = Role.PARTICIPANT  # an instructor gets INSTRUCTOR_KINDS, a participant the rest

    def facts(self, team: TeamFacts) -> MemberFacts:
        return MemberFacts(self.membership_id, self.person_id, self.chat_id, self.joined_at,
                           team.tz, team.reminder_offsets, team.webinars, self.role)


class _Existing(NamedTuple):
    id: int
    status: str
    plan: str | None


async def load_teams(session: AsyncSession, team_ids: Iterable[int]) -> dict[int, TeamFacts]:
    """The facts of these teams, in two queries."""
    ids = sorted(set(team_ids))
    webinars: dict[int, list[WebinarFacts]] = {}
    zones: dict[int, tuple[str, tuple[int, ...]]] = {}
    for chunk in chunked(ids):
        for team_id, zone, offsets in await session.execute(
                select(Team.id, Team.timezone, Team.reminder_offsets_minutes)
                .where(Team.id.in_(chunk))):
            zones[team_id] = (zone, tuple(int(o) for o in (offsets or [])))
        for w in await session.execute(
                select(WebinarSession.team_id, WebinarSession.id, WebinarSession.module_no,
                       WebinarSession.starts_at, WebinarSession.duration_minutes,
                       WebinarSession.status)
                .where(WebinarSession.team_id.in_(chunk))
                .order_by(WebinarSession.team_id, WebinarSession.module_no)):
            webinars.setdefault(w.team_id, []).append(WebinarFacts(
                w.id, w.module_no, w.starts_at, w.duration_minutes,
                w.status == SessionStatus.CANCELLED))
    return {team_id: TeamFacts(team_id, ZoneInfo(zone), offsets,
                               tuple(webinars.get(team_id, ())))
            for team_id, (zone, offsets) in zones.items()}


async def load_enrolments(
    session: AsyncSession, *criteria: ColumnElement[bool]
) -> list[Enrolment]:
    """Participants' and instructors' memberships matching ``criteria``, in one query."""
    rows = await session.execute(
        select(Membership.id, Membership.team_id, Membership.person_id, Person.chat_id,
               Membership.joined_at, Membership.status, Person.unreachable_at,
               MemberPlan.digest, Membership.role)
        .join(Person, Person.id == Membership.person_id)
        .outerjoin(MemberPlan, MemberPlan.membership_id == Membership.id)
        .where(*criteria)  # every role: instructors get INSTRUCTOR_KINDS
        .order_by(Membership.id)
    )
    return [Enrolment(r.id, r.team_id, r.person_id, r.chat_id, r.joined_at,
                      r.status == MembershipStatus.ACTIVE and r.unreachable_at is None, r.digest,
                      Role(r.role))
            for r in rows]


# -- what a plan is made of ------------------------------------------------------------------
@cache
def _code() -> bytes:
    """The planner's own code: a new or changed rule is a changed plan, so after a release the
    safety net replans everybody once (in the background) and then nothing until facts move."""
    try:
        # What the code does, not how it reads: an edit to a comment, docstring or annotation
        # replans nobody (dialogs/delivery/rules_digest.py).
        return behaviour_digest(*(inspect.getsource(source) for source in (
            sys.modules[__name__], timeplan, keys, course.module_opens_at)))
    except (OSError, TypeError):  # no source shipped: only the rules' names are known
        return hashlib.blake2b(",".join(sorted(RULES)).encode(), digest_size=16).digest()


def _team_key(team: TeamFacts, config: DeliveryConfig) -> bytes:
    webinars = ";".join(f"{w.id},{w.module_no},{w.starts_at.isoformat()},"
                        f"{w.duration_minutes},{w.cancelled}" for w in team.webinars)
    facts = f"|{config.planning_facts()}|{team.tz.key}|{team.reminder_offsets}|{webinars}"
    return _code() + facts.encode()


def plan_digest(team: TeamFacts, member: Enrolment, config: DeliveryConfig,
                team_key: bytes | None = None) -> str:
    """Everything a membership's planned rows depend on, in 32 hex digits."""
    digest = hashlib.blake2b(team_key or _team_key(team, config), digest_size=16)
    digest.update(f"|{member.membership_id},{member.person_id},{member.chat_id},"
                  f"{member.joined_at.isoformat()},{member.planned},{member.role}".encode())
    return digest.hexdigest()


def _desired(team: TeamFacts, members: Iterable[Enrolment],
             config: DeliveryConfig) -> dict[str, outbox.NewRow]:
    return {row.dedup_key: row
            for member in members if member.planned
            for row in plan_member(member.facts(team), config)}


# -- making the outbox match -----------------------------------------------------------------
async def replan_team(
    session: AsyncSession, team_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    """Make every member's planned rows in the team match the facts."""
    return await _replan(session, team_id, (), now, config)


async def replan_membership(
    session: AsyncSession, membership_id: int, now: datetime,
    config: DeliveryConfig | None = None,
) -> PlanReport:
    """One participant's rows, after they joined, left or came back: the work is theirs
    alone, however large the team."""
    team_id = await session.scalar(select(Membership.team_id).where(
        Membership.id == membership_id))
    if team_id is None:
        return PlanReport()
    return await _replan(session, team_id, (membership_id,), now, config)


async def replan_members(
    session: AsyncSession, team_id: int, membership_ids: Sequence[int], now: datetime,
    config: DeliveryConfig | None = None,
) -> PlanReport:
    """Some participants of one team (the safety net's stale ones)."""
    if not membership_ids:
        return PlanReport()
    return await _replan(session, team_id, membership_ids, now, config)


async def replan_person(
    session: AsyncSession, person_id: int, now: datetime, config: DeliveryConfig | None = None
) -> PlanReport:
    """After a person changed (came back, for instance): each of their memberships."""
    report = PlanReport()
    for membership_id in await session.scalars(
            select(Membership.id).where(Membership.person_id == person_id)
            .order_by(Membership.id)):
        report += await replan_membership(session, membership_id, now, config)
    return report


async def replan_webinars(
    session: AsyncSession, before: TeamFacts, now: datetime,
    config: DeliveryConfig | None = None,
) -> PlanReport:
    """After a team's webinars changed (``before``: their facts until then): only the rows
    whose plan changed — a moved webinar's reminders, nudge and check-ins, the openings and
    check-ins on either side of it — are read and written.

    The difference is taken between the plans of the old and the new facts, so it holds only
    if the rows matched the old facts: a membership whose digest says otherwise (never planned,
    or planned from other facts) is replanned whole instead."""
    config = config or DeliveryConfig()
    after = (await load_teams(session, [before.team_id])).get(before.team_id)
    if after is None:
        return PlanReport()
    members = await load_enrolments(session, Membership.team_id == before.team_id)
    old_key = _team_key(before, config)
    in_sync = [m for m in members if m.digest == plan_digest(before, m, config, old_key)]
    drifted = [m.membership_id for m in members if m not in in_sync]
    old = _desired(before, in_sync, config)
    new = _desired(after, in_sync, config)
    changed = [key for key in old.keys() | new.keys() if old.get(key) != new.get(key)]
    existing = await _existing_keys(session, changed)
    report = await _reconcile(session, {k: new[k] for k in changed if k in new}, existing, now)
    await _remember(session, after, in_sync, config, now)
    if drifted:
        report += await _replan(session, before.team_id, drifted, now, config)
    return report


async def _replan(
    session: AsyncSession, team_id: int, membership_ids: Sequence[int], now: datetime,
    config: DeliveryConfig | None,
) -> PlanReport:
    """Reconcile the team's participants (``membership_ids``, or all when empty)."""
    config = config or DeliveryConfig()
    team = (await load_teams(session, [team_id])).get(team_id)
    if team is None:
        return PlanReport()
    report = PlanReport()
    chosen = [Membership.id.in_(membership_ids)] if membership_ids else []
    members = await load_enrolments(session, Membership.team_id == team_id, *chosen)
    existing = await _existing_rows(session, members)
    report += await _reconcile(session, _desired(team, members, config), existing, now)
    await _remember(session, team, members, config, now)
    return report


async def _existing_rows(
    session: AsyncSession, members: Sequence[Enrolment]
) -> dict[str, _Existing]:
    """The planned rows these memberships have, as (id, status, plan stamp)."""
    memberships = {m.membership_id for m in members}
    found: dict[str, _Existing] = {}
    for chunk in chunked(sorted({m.person_id for m in members})):
        # By person alone, kinds sorted out here: a filter on kind could lead the database
        # to the (kind, status) index and a scan of every planned row.
        for row_id, key, kind, status, plan in await session.execute(
                select(OutboxMessage.id, OutboxMessage.dedup_key, OutboxMessage.kind,
                       OutboxMessage.status, OutboxMessage.payload["plan"].as_string())
                .where(OutboxMessage.person_id.in_(chunk))):
            if kind in PLANNED_KINDS and keys.member_of(key) in memberships:
                found[key] = _Existing(row_id, status, plan)
    return found


async def _existing_keys(session: AsyncSession, wanted: Sequence[str]) -> dict[str, _Existing]:
    found: dict[str, _Existing] = {}
    for chunk in chunked(sorted(wanted)):
        for row_id, key, status, plan in await session.execute(
                select(OutboxMessage.id, OutboxMessage.dedup_key, OutboxMessage.status,
                       OutboxMessage.payload["plan"].as_string())
                .where(OutboxMessage.dedup_key.in_(chunk))):
            found[key] = _Existing(row_id, status, plan)
    return found


async def _reconcile(
    session: AsyncSession,
    desired: dict[str, outbox.NewRow],
    existing: dict[str, _Existing],
    now: datetime,
) -> PlanReport:
    # Compare the plan, not due_at: the dispatcher may have deferred the row (quiet hours,
    # pacing), and a replan must not undo that.
    moves = [
        outbox.Move(row.id, want.due_at, want.expires_at, want.payload)
        for key, row in existing.items()
        if row.status == OutboxStatus.PENDING and (want := desired.get(key)) is not None
        and row.plan != want.payload["plan"]
    ]
    moved = await outbox.move_pending(session, moves)
    stale = [row.id for key, row in existing.items()
             if key not in desired and row.status == OutboxStatus.PENDING]
    cancelled = await outbox.cancel_pending(session, reason="replanned", ids=stale) if stale else 0
    new = [row for key, row in desired.items()
           if key not in existing and (row.expires_at is None or row.expires_at > now)]
    added = await outbox.add_rows(session, new, now)
    return PlanReport(added, moved, cancelled)


async def _remember(
    session: AsyncSession, team: TeamFacts, members: Sequence[Enrolment],
    config: DeliveryConfig, now: datetime,
) -> None:
    """Record what each membership was planned from (one statement)."""
    team_key = _team_key(team, config)
    await upsert(session, MemberPlan, [
        {"membership_id": m.membership_id, "digest": plan_digest(team, m, config, team_key),
         "planned_at": now}
        for m in members
    ], index_elements=["membership_id"], update=["digest", "planned_at"])


# -- the safety net --------------------------------------------------------------------------
@dataclass(frozen=True)
class Stale:
    """Memberships of one team whose rows were planned from other facts than today's."""

    team_id: int
    membership_ids: tuple[int, ...]


async def teams_to_plan(session: AsyncSession, now: datetime, config: DeliveryConfig) -> list[int]:
    """Teams whose plan may still produce messages (the follow-up comes months later)."""
    horizon = now - config.followup_after - config.evaluation_open_for - timedelta(days=7)
    return sorted(set(await session.scalars(
        select(WebinarSession.team_id).where(WebinarSession.starts_at >= horizon))))


async def stale_plans(
    session: AsyncSession, now: datetime, config: DeliveryConfig
) -> list[Stale]:
    """Which memberships need planning: a read of the facts and the digests, no planning."""
    stale: dict[int, list[int]] = {}
    # A few teams at a time: at ten thousand people, reading every membership at once peaks
    # at ~7 MB that the allocator keeps for the rest of the process's life.
    for chunk in chunked(await teams_to_plan(session, now, config), SAFETY_NET_TEAMS):
        teams = await load_teams(session, chunk)
        team_keys = {team_id: _team_key(team, config) for team_id, team in teams.items()}
        for member in await load_enrolments(session, Membership.team_id.in_(chunk)):
            if member.digest != plan_digest(teams[member.team_id], member, config,
                                            team_keys[member.team_id]):
                stale.setdefault(member.team_id, []).append(member.membership_id)
    return [Stale(team_id, tuple(ids)) for team_id, ids in sorted(stale.items())]

