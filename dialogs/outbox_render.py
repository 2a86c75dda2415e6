"""Rendering a due row for its recipient, at send time and in their current language.

Loading the facts and checking that the message still makes sense (the module is not
prepared yet, the check-in is not answered yet, the webinar has not moved) happens here, just
before sending — so a language change, a finished check-in or a moved webinar applies to every
message not yet sent.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Select, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import instructor_briefing, instructor_broadcast, reminders, webinar_calendar
from dialogs.course import module_opened_screen
from dialogs.delivery import keys, outbox
from dialogs.delivery.kinds import InstructorKind, Kind
from dialogs.delivery.outbox import Claimed
from dialogs.delivery.pacing import PersonTime
from dialogs.delivery.timeplan import zone_for
from dialogs.occasion import Occasion
from dialogs.screen import Screen
from locales.i18n import Catalogs, Tr, negotiate_locale
from storage.models import (
    Membership,
    MembershipStatus,
    ModuleProgress,
    OutboxMessage,
    OutboxStatus,
    Person,
    QuestionnaireResponse,
    SessionStatus,
    Team,
    WebinarSession,
)
from storage.models.base import Base


@dataclass(frozen=True)
class Rendered:
    screen: Screen
    # Module whose opening is recorded once the message is out (membership id, module no).
    opens_module: tuple[int, int] | None = None


@dataclass(frozen=True)
class Skip:
    """The message no longer makes sense; the row is cancelled with this reason."""

    reason: str


@dataclass(frozen=True, slots=True)
class Recipient:
    """What rendering and the gate read of a person: plain values, one per row of a batch
    (ORM entities cost the event loop that sends several times as much to build and commit)."""

    id: int
    locale: str | None
    telegram_language_code: str | None
    timezone: str | None
    paused_until: datetime | None
    quiet_start: time | None
    quiet_end: time | None
    unreachable_at: datetime | None


@dataclass(frozen=True, slots=True)
class Member:
    """What rendering reads of a membership (plain values, as :class:`Recipient`)."""

    id: int
    person_id: int
    team_id: int
    status: MembershipStatus


def _columns(model: type[Base], names: tuple[str, ...]) -> list[Column[Any]]:
    table = model.__table__
    assert isinstance(table, Table)
    return [table.c[name] for name in names]


_BY_IDS = bindparam("ids", expanding=True)


@functools.cache
def _reads() -> dict[str, Select[Any]]:
    """The batch's reads, built once with the ids as a parameter: building a statement anew
    for each batch cost the event loop about as much as running it. A batch's memberships
    come with their people and teams in one statement: each statement is a trip to the
    database's thread, which waits for the busy event loop at both ends."""
    member, recipient = _columns(Membership, Member.__slots__), _columns(
        Person, Recipient.__slots__)
    return {
        "members": select(*member, *recipient, Team)
        .join_from(Membership, Person, Membership.person_id == Person.id)
        .join(Team, Membership.team_id == Team.id).where(Membership.id.in_(_BY_IDS)),
        "persons": select(*recipient).where(Person.id.in_(_BY_IDS)),
        "webinars": select(WebinarSession).where(WebinarSession.id.in_(_BY_IDS)),
    }


@dataclass
class BatchFacts:
    persons: dict[int, Recipient] = field(default_factory=dict)
    memberships: dict[int, Member] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)
    webinars: dict[int, WebinarSession] = field(default_factory=dict)
    # What the kinds' checks read, loaded only when the batch has such rows:
    # (membership id, module no) -> progress (module openings, preparation nudges),
    progress: dict[tuple[int, int], ModuleProgress] = field(default_factory=dict)
    # (membership id, occasion) answered (check-ins, their reminders, evaluations),
    answered: set[tuple[int, str]] = field(default_factory=set)
    # check-in prompts sent, by dedup key (check-in reminders),
    prompts_sent: set[str] = field(default_factory=set)
    # and what several rows of a batch share (a team's calendar in a language).
    shared: dict[tuple[object, ...], Any] = field(default_factory=dict)


def _ids(rows: Sequence[Claimed], key: str) -> set[int]:
    return {int(r.payload[key]) for r in rows if (r.payload or {}).get(key) is not None}


class Renderer:
    def __init__(self, catalogs: Catalogs, default_locale: str) -> None:
        self.catalogs = catalogs
        self.default_locale = default_locale

    async def load(self, session: AsyncSession, rows: Sequence[Claimed]) -> BatchFacts:
        """Everything a batch needs, in two queries instead of four per row."""
        facts = BatchFacts()
        reads = _reads()
        membership_ids = _ids(rows, "membership_id")
        if membership_ids:
            split = len(Member.__slots__)
            for *values, team in await session.execute(reads["members"],
                                                       {"ids": list(membership_ids)}):
                membership = Member(*values[:split])
                facts.memberships[membership.id] = membership
                facts.persons[membership.person_id] = Recipient(*values[split:])
                facts.teams[team.id] = team
        # A row's own recipient, unless it came with its membership (nearly always).
        person_ids = {r.person_id for r in rows if r.person_id is not None} - set(facts.persons)
        if person_ids:
            facts.persons.update((row[0], Recipient(*row)) for row in await session.execute(
                reads["persons"], {"ids": list(person_ids)}))
        webinar_ids = _ids(rows, "webinar_id")
        if webinar_ids:
            facts.webinars = {w.id: w for w in await session.scalars(
                reads["webinars"], {"ids": list(webinar_ids)})}
        await self._load_checks(session, rows, facts)
        return facts

    async def _load_checks(
        self, session: AsyncSession, rows: Sequence[Claimed], facts: BatchFacts
    ) -> None:
        """What the kinds' checks need, one query per kind of fact instead of one per row."""
        def memberships_of(kinds: set[str]) -> set[int]:
            return _ids([r for r in rows if r.kind in kinds], "membership_id")

        with_progress = memberships_of({Kind.MODULE_OPEN, Kind.PREP_NUDGE})
        if with_progress:
            facts.progress = {(p.membership_id, p.module_no): p for p in await session.scalars(
                select(ModuleProgress).where(ModuleProgress.membership_id.in_(with_progress)))}
        prompted = memberships_of({Kind.CHECKIN, Kind.CHECKIN_REMINDER, Kind.EVALUATION})
        if prompted:
            facts.answered = {(membership_id, str(occasion)) for membership_id, occasion in
                              await session.execute(select(
                                  QuestionnaireResponse.membership_id,
                                  QuestionnaireResponse.occasion,
                              ).where(QuestionnaireResponse.membership_id.in_(prompted),
                                      QuestionnaireResponse.completed_at.is_not(None)))}
        prompt_keys = {keys.checkin_prompt(int(r.payload["membership_id"]),
                                           int(r.payload.get("module_no") or 0))
                       for r in rows if r.kind == Kind.CHECKIN_REMINDER
                       and (r.payload or {}).get("membership_id") is not None}
        if prompt_keys:
            facts.prompts_sent = set(await session.scalars(
                select(OutboxMessage.dedup_key).where(
                    OutboxMessage.dedup_key.in_(prompt_keys),
                    OutboxMessage.status == OutboxStatus.SENT)))

    def team_of(self, row: Claimed, facts: BatchFacts) -> Team | None:
        membership = facts.memberships.get(int((row.payload or {}).get("membership_id") or 0))
        return facts.teams.get(membership.team_id) if membership is not None else None

    def tr_for(self, person: Recipient, team: Team | None) -> Tr:
        return self.catalogs.tr(negotiate_locale(
            chosen=person.locale,
            telegram_language_code=person.telegram_language_code,
            team_language=team.language if team is not None else None,
            default=self.default_locale,
        ))

    def person_time(self, person: Recipient, team: Team | None) -> PersonTime:
        return PersonTime(
            tz=zone_for(person, team),
            paused_until=person.paused_until,
            unreachable=person.unreachable_at is not None,
            quiet_start=person.quiet_start,
            quiet_end=person.quiet_end,
        )

    async def render(
        self, session: AsyncSession, row: Claimed, facts: BatchFacts
    ) -> Rendered | Skip:
        person = facts.persons.get(row.person_id or 0)
        if person is None:
            return Skip("no recipient")
        payload = row.payload or {}
        membership = facts.memberships.get(int(payload.get("membership_id") or 0))
        if "membership_id" in payload and (
            membership is None or membership.status != MembershipStatus.ACTIVE
        ):
            return Skip("left the team")
        kind_renderer = RENDERERS.get(row.kind)
        if kind_renderer is None:
            return Skip(f"unknown kind {row.kind}")
        team = self.team_of(row, facts)
        return await kind_renderer(session, Due(
            row=row, payload=payload, membership=membership, team=team,
            tr=self.tr_for(person, team), tz=zone_for(person, team),
            webinar=facts.webinars.get(int(payload.get("webinar_id") or 0)), facts=facts,
        ))


@dataclass(frozen=True)
class Due:
    """One due row and the facts its message is made of."""

    row: Claimed
    payload: dict[str, Any]
    membership: Member | None
    team: Team | None
    tr: Tr
    tz: ZoneInfo
    webinar: WebinarSession | None
    facts: BatchFacts

    @property
    def module_no(self) -> int:
        return int(self.payload.get("module_no") or 0)

    @property
    def join_url(self) -> str | None:
        return (self.webinar.join_url if self.webinar is not None else None) or (
            self.team.webinar_url if self.team is not None else None)

    def webinar_is(self, status: SessionStatus) -> bool:
        return self.webinar is not None and self.webinar.status == status


# Renders one kind of row: its message, or why it no longer makes sense.
KindRenderer = Callable[[AsyncSession, Due], Awaitable["Rendered | Skip"]]


async def _webinar_reminder(session: AsyncSession, due: Due) -> Rendered | Skip:
    webinar = _webinar_as_planned(due)
    if isinstance(webinar, Skip):
        return webinar
    soon = int(due.payload.get("offset_minutes") or 0) < 24 * 60
    # A team's reminders fall due together and read the same in each language: Babel
    # formats the time once a batch, not once a member.
    key = ("webinar reminder", due.tr.locale, due.module_no, webinar.starts_at, due.tz, soon,
           due.join_url)
    if key not in due.facts.shared:
        due.facts.shared[key] = reminders.webinar_reminder_screen(
            due.tr, due.module_no, webinar.starts_at, due.tz, soon=soon, join_url=due.join_url)
    return Rendered(due.facts.shared[key])


async def _webinar_moved(session: AsyncSession, due: Due) -> Rendered | Skip:
    if due.webinar is None or not due.webinar_is(SessionStatus.SCHEDULED):
        return Skip("webinar changed again")
    return Rendered(await _with_calendar(session, due, reminders.webinar_moved_screen(
        due.tr, due.module_no, due.webinar.starts_at, due.webinar.moved_from, due.tz,
        join_url=due.join_url)))


async def _webinar_cancelled(session: AsyncSession, due: Due) -> Rendered | Skip:
    if due.webinar is None or not due.webinar_is(SessionStatus.CANCELLED):
        return Skip("webinar no longer cancelled")
    return Rendered(await _with_calendar(session, due, reminders.webinar_cancelled_screen(
        due.tr, due.module_no, due.webinar.starts_at, due.tz)))


async def _with_calendar(session: AsyncSession, due: Due, screen: Screen) -> Screen:
    """The notice carries the updated calendar, so the phone's event follows the change."""
    if due.team is None:
        return screen
    # The same file for everybody in the team who reads this language: built once a batch.
    key = ("calendar", due.team.id, due.tr.locale)
    if key not in due.facts.shared:
        due.facts.shared[key] = await webinar_calendar.team_calendar(session, due.team, due.tr)
    return webinar_calendar.attach(screen, due.facts.shared[key])


async def _module_open(session: AsyncSession, due: Due) -> Rendered | Skip:
    progress = _progress(due)
    if progress is not None and progress.opened_at is not None:
        return Skip("module already open")
    assert due.membership is not None
    return Rendered(module_opened_screen(due.tr, due.module_no),
                    opens_module=(due.membership.id, due.module_no))


async def _prep_nudge(session: AsyncSession, due: Due) -> Rendered | Skip:
    if due.webinar is None or not due.webinar_is(SessionStatus.SCHEDULED):
        return Skip("webinar changed")
    progress = _progress(due)
    if progress is not None and progress.done_at is not None:
        return Skip("already prepared")
    return Rendered(reminders.prep_nudge_screen(
        due.tr, due.module_no, due.webinar.starts_at, due.tz, due.row.id))


async def _checkin(session: AsyncSession, due: Due) -> Rendered | Skip:
    occasion = _unanswered(due)
    if isinstance(occasion, Skip):
        return occasion
    return Rendered(reminders.checkin_prompt_screen(due.tr, due.module_no, occasion, due.row.id))


async def _checkin_reminder(session: AsyncSession, due: Due) -> Rendered | Skip:
    occasion = _unanswered(due)
    if isinstance(occasion, Skip):
        return occasion
    if not _prompt_sent(due):
        return Skip("check-in was never sent")
    return Rendered(reminders.checkin_prompt_screen(
        due.tr, due.module_no, occasion, due.row.id, reminder=True))


async def _evaluation(session: AsyncSession, due: Due) -> Rendered | Skip:
    occasion = _unanswered(due)
    if isinstance(occasion, Skip):
        return occasion
    return Rendered(reminders.evaluation_prompt_screen(due.tr, occasion, due.row.id))


async def _broadcast(session: AsyncSession, due: Due) -> Rendered | Skip:
    # One broadcast goes to the whole team: read and built once a batch per language.
    key = ("broadcast", int(due.payload.get("broadcast_id") or 0), due.tr.locale)
    if key not in due.facts.shared:
        due.facts.shared[key] = await instructor_broadcast.broadcast_message(
            session, int(key[1]), due.tr)
    screen = due.facts.shared[key]
    return Rendered(screen) if screen is not None else Skip("broadcast withdrawn")


async def _broadcast_report(session: AsyncSession, due: Due) -> Rendered | Skip:
    """The report once every copy has an outcome; until then, a fresh look is planned after
    the last copy is due (a new row: the dispatcher only sends or cancels this one)."""
    row, payload, tr = due.row, due.payload, due.tr
    broadcast_id = int(payload.get("broadcast_id") or 0)
    try:
        report = await instructor_broadcast.broadcast_report(
            session, broadcast_id, unreachable_before=int(payload.get("unreachable_before") or 0))
    except LookupError:
        return Skip("broadcast gone")
    if report.done:
        return Rendered(instructor_broadcast.report_screen(tr, report))
    assert report.next_look is not None
    assert row.person_id is not None
    due = max(report.next_look, row.due_at) + instructor_broadcast.REPORT_AFTER
    await outbox.add_rows(session, [instructor_broadcast.report_row(
        broadcast_id, int(payload.get("membership_id") or 0), row.person_id, row.chat_id, due,
        unreachable_before=int(payload.get("unreachable_before") or 0),
    )], row.due_at)  # created_at: the renderer has no clock of its own
    return Skip("broadcast still going out; report planned again")


def _webinar_as_planned(due: Due) -> WebinarSession | Skip:
    """The webinar a row was planned for, unless it moved or was cancelled since."""
    webinar = due.webinar
    if webinar is None or not due.webinar_is(SessionStatus.SCHEDULED) or (
        webinar.starts_at.isoformat() != due.payload.get("starts_at")
    ):
        return Skip("webinar changed")
    return webinar


async def _instructor_briefing(session: AsyncSession, due: Due) -> Rendered | Skip:
    webinar = _webinar_as_planned(due)
    if isinstance(webinar, Skip):
        return webinar
    assert due.membership is not None
    instructor = await session.get(Membership, due.membership.id)
    if instructor is None:
        return Skip("left the team")
    brief = await instructor_briefing.briefing(session, instructor, webinar,
                                               due.row.due_at, due.tr)
    return Rendered(instructor_briefing.briefing_screen(due.tr, brief))


async def _attendance_prompt(session: AsyncSession, due: Due) -> Rendered | Skip:
    webinar = _webinar_as_planned(due)
    if isinstance(webinar, Skip):
        return webinar
    if await instructor_briefing.attendance_marked(session, webinar.id):
        return Skip("attendance already marked")
    return Rendered(instructor_briefing.attendance_prompt_screen(
        due.tr, webinar.module_no, webinar.id, webinar.starts_at, due.tz))


# Every kind of row the outbox sends, and how it is rendered. A new kind is one entry here
# (tests check that every kind has one).
RENDERERS: dict[str, KindRenderer] = {
    Kind.MODULE_OPEN: _module_open,
    Kind.WEBINAR_REMINDER: _webinar_reminder,
    Kind.WEBINAR_MOVED: _webinar_moved,
    Kind.WEBINAR_CANCELLED: _webinar_cancelled,
    Kind.PREP_NUDGE: _prep_nudge,
    Kind.CHECKIN: _checkin,
    Kind.CHECKIN_REMINDER: _checkin_reminder,
    Kind.EVALUATION: _evaluation,
    Kind.INSTRUCTOR_BRIEFING: _instructor_briefing,
    Kind.ATTENDANCE_PROMPT: _attendance_prompt,
    InstructorKind.BROADCAST: _broadcast,
    InstructorKind.BROADCAST_REPORT: _broadcast_report,
}


def _progress(due: Due) -> ModuleProgress | None:
    if due.membership is None:
        return None
    return due.facts.progress.get((due.membership.id, due.module_no))


def _unanswered(due: Due) -> Occasion | Skip:
    """The occasion a prompt asks about, unless it was answered meanwhile."""
    try:
        occasion = Occasion.parse(str(due.payload.get("occasion")))
    except ValueError:
        return Skip("unknown occasion")
    if due.membership is None:
        return occasion
    answered = (due.membership.id, str(occasion)) in due.facts.answered
    return Skip("already answered") if answered else occasion


def _prompt_sent(due: Due) -> bool:
    if due.membership is None:
        return False
    return keys.checkin_prompt(due.membership.id, due.module_no) in due.facts.prompts_sent
