"""Rendering a due row for its recipient, at send time and in their current language.

Loading the facts and checking that the message still makes sense (the module is not
prepared yet, the check-in is not answered yet, the webinar has not moved) happens here, just
before sending — so a language change, a finished check-in or a moved webinar applies to every
message not yet sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import instructor_broadcast, reminders
from dialogs.course import module_opened_screen
from dialogs.delivery import outbox
from dialogs.delivery.kinds import InstructorKind, Kind
from dialogs.delivery.pacing import PersonTime
from dialogs.delivery.timeplan import zone_for
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


@dataclass(frozen=True)
class Rendered:
    screen: Screen
    # Module whose opening is recorded once the message is out (membership id, module no).
    opens_module: tuple[int, int] | None = None


@dataclass(frozen=True)
class Skip:
    """The message no longer makes sense; the row is cancelled with this reason."""

    reason: str


@dataclass
class BatchFacts:
    persons: dict[int, Person] = field(default_factory=dict)
    memberships: dict[int, Membership] = field(default_factory=dict)
    teams: dict[int, Team] = field(default_factory=dict)
    webinars: dict[int, WebinarSession] = field(default_factory=dict)


def _ids(rows: Sequence[OutboxMessage], key: str) -> set[int]:
    return {int(r.payload[key]) for r in rows if (r.payload or {}).get(key) is not None}


class Renderer:
    def __init__(self, catalogs: Catalogs, default_locale: str) -> None:
        self.catalogs = catalogs
        self.default_locale = default_locale

    async def load(self, session: AsyncSession, rows: Sequence[OutboxMessage]) -> BatchFacts:
        """Everything a batch needs, in four queries instead of four per row."""
        facts = BatchFacts()
        person_ids = {r.person_id for r in rows if r.person_id is not None}
        if person_ids:
            facts.persons = {p.id: p for p in await session.scalars(
                select(Person).where(Person.id.in_(person_ids)))}
        membership_ids = _ids(rows, "membership_id")
        if membership_ids:
            facts.memberships = {m.id: m for m in await session.scalars(
                select(Membership).where(Membership.id.in_(membership_ids)))}
        team_ids = {m.team_id for m in facts.memberships.values()}
        if team_ids:
            facts.teams = {t.id: t for t in await session.scalars(
                select(Team).where(Team.id.in_(team_ids)))}
        webinar_ids = _ids(rows, "webinar_id")
        if webinar_ids:
            facts.webinars = {w.id: w for w in await session.scalars(
                select(WebinarSession).where(WebinarSession.id.in_(webinar_ids)))}
        return facts

    def team_of(self, row: OutboxMessage, facts: BatchFacts) -> Team | None:
        membership = facts.memberships.get(int((row.payload or {}).get("membership_id") or 0))
        return facts.teams.get(membership.team_id) if membership is not None else None

    def tr_for(self, person: Person, team: Team | None) -> Tr:
        return self.catalogs.tr(negotiate_locale(
            chosen=person.locale,
            telegram_language_code=person.telegram_language_code,
            team_language=team.language if team is not None else None,
            default=self.default_locale,
        ))

    def person_time(self, person: Person, team: Team | None) -> PersonTime:
        return PersonTime(
            tz=zone_for(person, team),
            paused_until=person.paused_until,
            unreachable=person.unreachable_at is not None,
            quiet_start=person.quiet_start,
            quiet_end=person.quiet_end,
        )

    async def render(
        self, session: AsyncSession, row: OutboxMessage, facts: BatchFacts
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
        team = self.team_of(row, facts)
        tr = self.tr_for(person, team)
        tz = zone_for(person, team)
        module_no = int(payload.get("module_no") or 0)
        webinar = facts.webinars.get(int(payload.get("webinar_id") or 0))
        join_url = (webinar.join_url if webinar is not None else None) or (
            team.webinar_url if team is not None else None)
        match row.kind:
            case Kind.WEBINAR_REMINDER:
                if webinar is None or webinar.status != SessionStatus.SCHEDULED or (
                    webinar.starts_at.isoformat() != payload.get("starts_at")
                ):
                    return Skip("webinar changed")
                soon = int(payload.get("offset_minutes") or 0) < 24 * 60
                return Rendered(reminders.webinar_reminder_screen(
                    tr, module_no, webinar.starts_at, tz, soon=soon, join_url=join_url))
            case Kind.WEBINAR_MOVED:
                if webinar is None or webinar.status != SessionStatus.SCHEDULED:
                    return Skip("webinar changed again")
                return Rendered(reminders.webinar_moved_screen(
                    tr, module_no, webinar.starts_at, webinar.moved_from, tz, join_url=join_url))
            case Kind.WEBINAR_CANCELLED:
                if webinar is None or webinar.status != SessionStatus.CANCELLED:
                    return Skip("webinar no longer cancelled")
                return Rendered(reminders.webinar_cancelled_screen(
                    tr, module_no, webinar.starts_at, tz))
            case Kind.MODULE_OPEN:
                progress = await _progress(session, membership, module_no)
                if progress is not None and progress.opened_at is not None:
                    return Skip("module already open")
                assert membership is not None
                return Rendered(module_opened_screen(tr, module_no),
                                opens_module=(membership.id, module_no))
            case Kind.PREP_NUDGE:
                if webinar is None or webinar.status != SessionStatus.SCHEDULED:
                    return Skip("webinar changed")
                progress = await _progress(session, membership, module_no)
                if progress is not None and progress.done_at is not None:
                    return Skip("already prepared")
                return Rendered(reminders.prep_nudge_screen(
                    tr, module_no, webinar.starts_at, tz, row.id))
            case Kind.CHECKIN | Kind.CHECKIN_REMINDER:
                occasion = str(payload.get("occasion"))
                if await _completed(session, membership, occasion):
                    return Skip("already answered")
                reminder = row.kind == Kind.CHECKIN_REMINDER
                if reminder and not await _prompt_sent(session, membership, module_no):
                    return Skip("check-in was never sent")
                return Rendered(reminders.checkin_prompt_screen(
                    tr, module_no, occasion, row.id, reminder=reminder))
            case Kind.EVALUATION:
                occasion = str(payload.get("occasion"))
                if await _completed(session, membership, occasion):
                    return Skip("already answered")
                return Rendered(reminders.evaluation_prompt_screen(tr, occasion, row.id))
            case InstructorKind.BROADCAST:
                screen = await instructor_broadcast.broadcast_message(
                    session, int(payload.get("broadcast_id") or 0), tr)
                return Rendered(screen) if screen is not None else Skip("broadcast withdrawn")
            case InstructorKind.BROADCAST_REPORT:
                return await _broadcast_report(session, row, tr)
        return Skip(f"unknown kind {row.kind}")


async def _broadcast_report(session: AsyncSession, row: OutboxMessage, tr: Tr) -> Rendered | Skip:
    """The report once every copy has an outcome; until then, a fresh look is planned after
    the last copy is due (a new row: the dispatcher only sends or cancels this one)."""
    payload = row.payload or {}
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



async def _progress(
    session: AsyncSession, membership: Membership | None, module_no: int
) -> ModuleProgress | None:
    if membership is None:
        return None
    return await session.scalar(select(ModuleProgress).where(
        ModuleProgress.membership_id == membership.id, ModuleProgress.module_no == module_no))


async def _completed(session: AsyncSession, membership: Membership | None, occasion: str) -> bool:
    if membership is None:
        return False
    done = await session.scalar(select(QuestionnaireResponse.id).where(
        QuestionnaireResponse.membership_id == membership.id,
        QuestionnaireResponse.occasion == occasion,
        QuestionnaireResponse.completed_at.is_not(None),
    ).limit(1))
    return done is not None


async def _prompt_sent(
    session: AsyncSession, membership: Membership | None, module_no: int
) -> bool:
    if membership is None:
        return False
    status = await session.scalar(select(OutboxMessage.status).where(
        OutboxMessage.dedup_key == f"m{membership.id}:{Kind.CHECKIN}:{module_no}"))
    return status == OutboxStatus.SENT

