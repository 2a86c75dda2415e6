"""The instructor in chat: joining by invite, the team roster, webinars, attendance.

Instructors see names and progress counts, never an answer: the roster counts completed
check-ins and never opens one. Every use-case here takes the acting person's id and checks
the instructor role for the object it touches (``dialogs.instructor_auth``) inside the
caller's transaction. Broadcasts live in ``dialogs.instructor_broadcast``.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.callbacks import INT, TEXT, Action, callback, one_of
from dialogs.coordinator import STAFF_NOTICE_VERSION
from dialogs.delivery import events
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from dialogs.instructor_auth import Refusal, RefusalReason, require_instructor
from dialogs.invites import (
    WRONG_ROLE,
    Granted,
    InviteStatus,
    Newcomer,
    check_invite,
    redeem_invite,
)
from dialogs.names import told_apart
from dialogs.occasion import CHECKIN
from dialogs.onboarding import NAME_KEEP, NAME_WRITE, TeamInfo, clean_name, throttled_screen
from dialogs.screen import Button, Screen, escape
from locales.i18n import Tr
from storage import queries
from storage.models import (
    COURSE_MODULES,
    Attendance,
    AuditLog,
    Invite,
    InviteRole,
    Membership,
    MembershipStatus,
    ModuleProgress,
    Municipality,
    OutboxMessage,
    OutboxStatus,
    Person,
    QuestionnaireResponse,
    Role,
    SessionStatus,
    Team,
    WebinarSession,
)

# What a team choice leads to (TEAM's first argument).
FOR_ROSTER, FOR_BROADCAST, FOR_SESSIONS, FOR_ATTENDANCE = "r", "b", "s", "a"

MOVE_STATE = "instructor_move"  # waiting for a typed time (data: webinar_id)
QUICK_MOVES = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}

# Callback actions. Ids in buttons are requests: every handler re-checks them.
JOIN = Action("ij", TEXT)  # ij:<code>                 consent given: become instructor
DECLINE = Action("in")  # in                          no thanks
TEAM = Action("it", one_of(FOR_ROSTER, FOR_BROADCAST, FOR_SESSIONS, FOR_ATTENDANCE),
              INT)  # it:<what>:<team id>             which team (several teams)
WEBINARS = Action("is", INT)  # is:<team id>          the team's webinars
WEBINAR = Action("iw", INT)  # iw:<webinar id>        one webinar: move or cancel
MOVE_ASK = Action("im", INT, one_of(*QUICK_MOVES))  # im:<webinar id>:<h|d|w>  to confirm
MOVE_TYPE = Action("iy", INT)  # iy:<webinar id>      type a new time
MOVE_OK = Action("imk", INT, INT)  # imk:<webinar id>:<unix>  confirmed: move to that moment
CANCEL_ASK = Action("ic", INT)  # ic:<webinar id>
CANCEL_OK = Action("ick", INT)  # ick:<webinar id>
ATTENDANCE = Action("iap", INT)  # iap:<webinar id>   the attendance list of a webinar
MARK = Action("ia", INT, INT)  # ia:<webinar id>:<membership id>  toggle attended ✓/✗
ACTIONS = (JOIN, DECLINE, TEAM, WEBINARS, WEBINAR, MOVE_ASK, MOVE_TYPE, MOVE_OK, CANCEL_ASK,
           CANCEL_OK, ATTENDANCE, MARK)
MAX_MESSAGE = 4096


# -- joining by invite ---------------------------------------------------------------------------


class JoinStatus(enum.StrEnum):
    JOINED = "joined"
    ALREADY = "already"
    PARTICIPANT_HERE = "participant_here"  # a participant of this team cannot also lead it
    INVITE_INVALID = "invite_invalid"


@dataclass(frozen=True)
class InstructorJoin:
    status: JoinStatus
    team: TeamInfo | None = None
    membership_id: int | None = None
    study_id: str | None = None
    display_name: str | None = None
    invite_status: InviteStatus = InviteStatus.OK  # why, for INVITE_INVALID


async def _team_info(session: AsyncSession, team_id: int) -> TeamInfo:
    team = await session.get(Team, team_id)
    assert team is not None
    municipality = await session.get(Municipality, team.municipality_id)
    assert municipality is not None
    return TeamInfo(team.id, team.name, municipality.name)


async def instructor_invitation(session: AsyncSession, code: str, now: datetime) -> TeamInfo | None:
    """The team a valid instructor invite leads to; None for any other code."""
    check = await check_invite(session, code, now)
    invite = check.invite
    if not check.ok or invite is None or invite.role is not InviteRole.INSTRUCTOR \
            or invite.team_id is None:
        return None
    return await _team_info(session, invite.team_id)


@dataclass(frozen=True)
class InstructorAdmission:
    """Redeeming an instructor invite: not for a participant of the same team."""

    role: InviteRole = InviteRole.INSTRUCTOR
    consent_version: str = STAFF_NOTICE_VERSION

    async def refusal(
        self, session: AsyncSession, invite: Invite, person: Person | None
    ) -> str | None:
        if person is None:
            return None
        roles = {m.role for m in await _memberships(session, person.id, invite.team_id)
                 if m.status == MembershipStatus.ACTIVE}
        if Role.PARTICIPANT in roles:
            return JoinStatus.PARTICIPANT_HERE
        if Role.INSTRUCTOR in roles:
            # Nothing changes, so the single-use invite stays unused for whom it was meant.
            return JoinStatus.ALREADY
        return None

    async def admit(
        self, session: AsyncSession, invite: Invite, person: Person, now: datetime
    ) -> Granted:
        membership = next((m for m in await _memberships(session, person.id, invite.team_id)
                           if m.role == Role.INSTRUCTOR), None)
        if membership is None:
            team = await session.get(Team, invite.team_id)
            assert team is not None
            membership = await queries.add_membership(session, person, team, Role.INSTRUCTOR,
                                                      now=now)
        membership.status, membership.joined_at, membership.left_at = (
            MembershipStatus.ACTIVE, now, None)
        return Granted(membership.study_id,
                       {"team_id": invite.team_id, "role": str(Role.INSTRUCTOR)}, membership.id)


async def _memberships(
    session: AsyncSession, person_id: int, team_id: int | None
) -> list[Membership]:
    return list(await session.scalars(select(Membership).where(
        Membership.person_id == person_id, Membership.team_id == team_id)))


async def join_as_instructor(
    session: AsyncSession,
    *,
    code: str,
    telegram_user_id: int,
    chat_id: int,
    locale: str,
    telegram_language_code: str | None,
    now: datetime,
    throttle_secret: bytes,
    config: DeliveryConfig | None = None,
) -> InstructorJoin:
    """The staff notice accepted: consent, instructor membership, invite used, audit row."""
    redemption = await redeem_invite(
        session, code, InstructorAdmission(),
        Newcomer(telegram_user_id, chat_id, locale, telegram_language_code), now,
        throttle_secret=throttle_secret)
    invite = redemption.invite
    if invite is None or invite.team_id is None or redemption.status is not InviteStatus.OK \
            or redemption.refusal == WRONG_ROLE:
        return InstructorJoin(JoinStatus.INVITE_INVALID, invite_status=redemption.status)
    team = await _team_info(session, invite.team_id)
    person = redemption.person
    assert person is not None
    if redemption.refusal == JoinStatus.PARTICIPANT_HERE:
        return InstructorJoin(JoinStatus.PARTICIPANT_HERE, team)
    membership = next(m for m in await _memberships(session, person.id, invite.team_id)
                      if m.role == Role.INSTRUCTOR)
    status = JoinStatus.ALREADY if redemption.refusal == JoinStatus.ALREADY else JoinStatus.JOINED
    if status is JoinStatus.JOINED:
        # The briefings and attendance prompts of the webinars ahead, planned now.
        await events.membership_changed(session, membership.id, now, config)
    return InstructorJoin(status, team, membership.id, membership.study_id, person.display_name)


# -- teams -------------------------------------------------------------------------------------


async def instructor_teams(session: AsyncSession, person_id: int) -> list[TeamInfo]:
    rows = await session.execute(
        select(Team.id, Team.name, Municipality.name)
        .join(Membership, Membership.team_id == Team.id)
        .join(Municipality, Municipality.id == Team.municipality_id)
        .where(Membership.person_id == person_id, Membership.role == Role.INSTRUCTOR,
               Membership.status == MembershipStatus.ACTIVE)
        .order_by(Team.name, Team.id)
    )
    return [TeamInfo(team_id, team, municipality) for team_id, team, municipality in rows]


# -- the roster --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    name: str | None
    joined_at: datetime
    unreachable: bool
    prepared: tuple[int, ...]  # module numbers marked as prepared
    checkins_sent: int
    checkins_done: int
    attended: int


@dataclass(frozen=True)
class Roster:
    team: TeamInfo
    tz: ZoneInfo
    webinars_held: int
    rows: tuple[RosterRow, ...]


async def team_roster(
    session: AsyncSession, *, person_id: int, team_id: int, now: datetime
) -> Roster:
    """Names, joining dates and counts per active participant; answers are never read."""
    await require_instructor(session, person_id, team_id)
    team = await session.get(Team, team_id)
    assert team is not None
    members = (await session.execute(
        select(Membership.id, Membership.joined_at, Person.display_name, Person.unreachable_at)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.team_id == team_id, Membership.role == Role.PARTICIPANT,
               Membership.status == MembershipStatus.ACTIVE)
        .order_by(Membership.joined_at, Membership.id)
    )).all()
    ids = [m.id for m in members]
    prepared: dict[int, list[int]] = {}
    for membership_id, module_no in await session.execute(
        select(ModuleProgress.membership_id, ModuleProgress.module_no)
        .where(ModuleProgress.membership_id.in_(ids), ModuleProgress.done_at.is_not(None))
        .order_by(ModuleProgress.module_no)
    ):
        prepared.setdefault(membership_id, []).append(module_no)
    # Only whether a check-in was completed: the response row, never its answers.
    done = Counter(await session.scalars(
        select(QuestionnaireResponse.membership_id).where(
            QuestionnaireResponse.membership_id.in_(ids),
            QuestionnaireResponse.questionnaire_key == CHECKIN,
            QuestionnaireResponse.completed_at.is_not(None),
        )
    ))
    sent = Counter(
        int((payload or {}).get("membership_id") or 0)
        for payload in await session.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.kind == Kind.CHECKIN, OutboxMessage.status == OutboxStatus.SENT,
            OutboxMessage.person_id.in_(
                select(Membership.person_id).where(Membership.id.in_(ids))),
        ))
    )
    attended = Counter(await session.scalars(
        select(Attendance.membership_id).where(Attendance.membership_id.in_(ids),
                                               Attendance.attended.is_(True))
    ))
    held = len([s for s in await queries.team_sessions(session, team_id)
                if s.status == SessionStatus.SCHEDULED and s.starts_at <= now])
    shown = told_apart([(m.id, m.display_name) for m in members])
    return Roster(
        team=await _team_info(session, team_id),
        tz=ZoneInfo(team.timezone),
        webinars_held=held,
        rows=tuple(
            RosterRow(shown[m.id], m.joined_at, m.unreachable_at is not None,
                      tuple(prepared.get(m.id, ())), sent.get(m.id, 0), done.get(m.id, 0),
                      attended.get(m.id, 0))
            for m in members
        ),
    )


# -- webinars ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WebinarInfo:
    webinar_id: int
    team_id: int
    team_name: str
    module_no: int
    starts_at: datetime
    cancelled: bool
    moved_from: datetime | None
    tz: ZoneInfo

    def started(self, now: datetime) -> bool:
        return self.starts_at <= now


def _info(webinar: WebinarSession, team: Team) -> WebinarInfo:
    return WebinarInfo(webinar.id, team.id, team.name, webinar.module_no, webinar.starts_at,
                       webinar.status == SessionStatus.CANCELLED, webinar.moved_from,
                       ZoneInfo(team.timezone))


async def team_webinars(
    session: AsyncSession, *, person_id: int, team_id: int
) -> tuple[TeamInfo, list[WebinarInfo]]:
    await require_instructor(session, person_id, team_id)
    team = await session.get(Team, team_id)
    assert team is not None
    webinars = await queries.team_sessions(session, team_id)
    return await _team_info(session, team_id), [_info(w, team) for w in webinars]


async def webinar_for_instructor(
    session: AsyncSession, *, person_id: int, webinar_id: int, lock: bool = False
) -> WebinarInfo:
    """The webinar, if this person instructs its team. ``lock``: hold its row until commit, so
    two instructors changing it at once take turns (PostgreSQL; SQLite writes one at a time)."""
    webinar = await session.get(WebinarSession, webinar_id, with_for_update=lock,
                                populate_existing=lock)
    if webinar is None:
        raise Refusal(RefusalReason.NOT_FOUND)
    await require_instructor(session, person_id, webinar.team_id)
    team = await session.get(Team, webinar.team_id)
    assert team is not None
    return _info(webinar, team)


def local_plus(moment: datetime, tz: ZoneInfo, delta: timedelta) -> datetime:
    """``delta`` later on the local wall clock (a week later is the same local time)."""
    local = moment.astimezone(tz).replace(tzinfo=None) + delta
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)




class MoveProblem(enum.StrEnum):
    UNREADABLE = "unreadable"
    PAST = "past"


def check_new_start(new_start: datetime | None, now: datetime) -> MoveProblem | None:
    if new_start is None:
        return MoveProblem.UNREADABLE
    if new_start <= now:
        return MoveProblem.PAST
    return None


async def move_webinar(
    session: AsyncSession, *, person_id: int, webinar_id: int, new_start: datetime,
    now: datetime, config: DeliveryConfig | None = None,
) -> WebinarInfo:
    """Move (or reinstate at a new time) one webinar; reminders follow, participants are told
    once. Moving to the time it already has changes nothing (a double tap)."""
    info = await webinar_for_instructor(session, person_id=person_id, webinar_id=webinar_id,
                                        lock=True)
    if info.started(now):
        raise Refusal(RefusalReason.TOO_LATE)
    if check_new_start(new_start, now) is not None:
        raise Refusal(RefusalReason.IN_THE_PAST)
    if new_start == info.starts_at and not info.cancelled:
        return info
    instructor = await require_instructor(session, person_id, info.team_id)
    await events.move_webinar(session, webinar_id, new_start, now, config)
    session.add(AuditLog(
        at=now, actor=instructor.study_id, action="webinar.move", subject=f"webinar:{webinar_id}",
        details={"team_id": info.team_id, "from": info.starts_at.isoformat(),
                 "to": new_start.isoformat()},
    ))
    return await webinar_for_instructor(session, person_id=person_id, webinar_id=webinar_id)


async def cancel_webinar(
    session: AsyncSession, *, person_id: int, webinar_id: int, now: datetime,
    config: DeliveryConfig | None = None,
) -> WebinarInfo:
    info = await webinar_for_instructor(session, person_id=person_id, webinar_id=webinar_id,
                                        lock=True)
    if info.started(now):
        raise Refusal(RefusalReason.TOO_LATE)
    if info.cancelled:
        return info
    instructor = await require_instructor(session, person_id, info.team_id)
    await events.cancel_webinar(session, webinar_id, now, config)
    session.add(AuditLog(
        at=now, actor=instructor.study_id, action="webinar.cancel",
        subject=f"webinar:{webinar_id}",
        details={"team_id": info.team_id, "starts_at": info.starts_at.isoformat()},
    ))
    return await webinar_for_instructor(session, person_id=person_id, webinar_id=webinar_id)


# -- attendance --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceRow:
    membership_id: int
    name: str | None
    attended: bool | None  # None: not marked yet


@dataclass(frozen=True)
class AttendanceSheet:
    webinar: WebinarInfo
    rows: tuple[AttendanceRow, ...]


async def attendance_sheet(
    session: AsyncSession, *, person_id: int, webinar_id: int, now: datetime
) -> AttendanceSheet:
    info = await webinar_for_instructor(session, person_id=person_id, webinar_id=webinar_id)
    if info.cancelled:
        raise Refusal(RefusalReason.CANCELLED)
    if not info.started(now):
        raise Refusal(RefusalReason.NOT_STARTED)
    marks = dict((await session.execute(
        select(Attendance.membership_id, Attendance.attended)
        .where(Attendance.session_id == webinar_id)
    )).all())
    members = (await session.execute(
        select(Membership.id, Person.display_name)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.team_id == info.team_id, Membership.role == Role.PARTICIPANT,
               Membership.status == MembershipStatus.ACTIVE, Membership.joined_at <= now)
        .order_by(Membership.joined_at, Membership.id)
    )).all()
    shown = told_apart([(membership_id, name) for membership_id, name in members])
    return AttendanceSheet(info, tuple(
        AttendanceRow(membership_id, shown[membership_id], marks.get(membership_id))
        for membership_id, _ in members
    ))


async def toggle_attendance(
    session: AsyncSession, *, person_id: int, webinar_id: int, membership_id: int,
    now: datetime,
) -> AttendanceSheet:
    """Unmarked or ✗ becomes ✓; ✓ becomes ✗."""
    sheet = await attendance_sheet(session, person_id=person_id, webinar_id=webinar_id, now=now)
    member = await session.get(Membership, membership_id)
    if member is None or member.team_id != sheet.webinar.team_id \
            or member.role != Role.PARTICIPANT:
        raise Refusal(RefusalReason.NOT_IN_TEAM)
    instructor = await require_instructor(session, person_id, sheet.webinar.team_id)
    mark = await session.scalar(select(Attendance).where(
        Attendance.session_id == webinar_id, Attendance.membership_id == membership_id))
    if mark is None:
        session.add(Attendance(session_id=webinar_id, membership_id=membership_id,
                               attended=True, marked_by=instructor.id, marked_at=now))
    else:
        mark.attended, mark.marked_by, mark.marked_at = not mark.attended, instructor.id, now
    await session.flush()
    return await attendance_sheet(session, person_id=person_id, webinar_id=webinar_id, now=now)


# -- screens: joining --------------------------------------------------------------------------


def staff_notice_screen(tr: Tr, team: TeamInfo, code: str) -> Screen:
    text = "\n\n".join((
        tr._("<b>You are invited as instructor of {team}</b>\n{municipality}",
             team=escape(team.team_name), municipality=escape(team.municipality_name)),
        tr._("As instructor, you see the names and progress of your participants, never "
             "their answers. You can write to the team, move webinars and mark attendance."),
        tr._("I store your Telegram account, the name you choose and your role. I store "
             "nothing about your health."),
        "<i>" + tr._("Staff notice, version {version}", version=STAFF_NOTICE_VERSION) + "</i>",
    ))
    return Screen.of(
        text,
        [Button(tr._("I agree"), callback(JOIN, code))],
        [Button(tr._("No, thank you"), callback(DECLINE))],
    )


def declined_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("That is fine. I have not saved anything about you."))


def _commands_help(tr: Tr) -> str:
    return tr._(
        "/team – your team and how it is going\n"
        "/broadcast – write to the whole team\n"
        "/sessions – move or cancel a webinar\n"
        "/attendance – mark who attended"
    )


def joined_screens(tr: Tr, join: InstructorJoin, first_name: str | None) -> list[Screen]:
    """What a new instructor sees: welcome, the commands, and the name question if needed."""
    assert join.team is not None
    if join.status is JoinStatus.ALREADY:
        first = tr._("You are already instructor of {team}.", team=escape(join.team.team_name))
    else:
        first = tr._("Welcome! You are now instructor of {team}.",
                     team=escape(join.team.team_name))
    screens = [Screen.of(first + "\n\n" + _commands_help(tr))]
    if join.display_name is None:
        rows: list[list[Button]] = []
        suggestion = clean_name(first_name or "")
        if suggestion:
            rows.append([Button(tr._("Use “{name}”", name=suggestion), callback(NAME_KEEP))])
        rows.append([Button(tr._("Write another name"), callback(NAME_WRITE))])
        screens.append(Screen.of(tr._("What name should your team see?"), *rows))
    return screens


def join_problem_screen(
    tr: Tr, status: JoinStatus, invite_status: InviteStatus = InviteStatus.OK
) -> Screen:
    if status is JoinStatus.PARTICIPANT_HERE:
        return Screen.of(tr._(
            "You are a participant in this team, so you cannot also be its instructor. "
            "Please ask your coordinator."
        ))
    match invite_status:
        case InviteStatus.THROTTLED:
            return throttled_screen(tr)
        case InviteStatus.EXPIRED:
            reason = tr._("This invite link has expired.")
        case InviteStatus.USED_UP:
            reason = tr._("This invite link has already been used.")
        case _:
            return Screen.of(tr._(
                "This invite link is no longer valid. Please ask your coordinator for a new one."
            ))
    return Screen.of(reason + "\n\n" + tr._("Please ask your coordinator for a new link."))


# -- screens: choosing a team ------------------------------------------------------------------


def choose_team_screen(tr: Tr, what: str, teams: list[TeamInfo]) -> Screen:
    return Screen.of(
        tr._("Which team?"),
        *[[Button(f"{t.team_name} · {t.municipality_name}", callback(TEAM, what, t.team_id))]
          for t in teams],
    )


# -- screens: the roster -----------------------------------------------------------------------


def _modules(numbers: tuple[int, ...]) -> str:
    return " ".join(str(n) for n in numbers) if numbers else "–"


# Long names are cut so a roster line fits a phone's width without wrapping.
ROSTER_NAME_LIMIT = 22


def _short(name: str) -> str:
    return name if len(name) <= ROSTER_NAME_LIMIT else name[:ROSTER_NAME_LIMIT - 1] + "…"


def roster_texts(tr: Tr, roster: Roster) -> list[str]:
    """The roster for a phone: the team on top, a one-line legend, then one line per person.

    Counts that have nothing behind them yet (no check-in sent) are left out, not shown as
    "0 of 0".
    """
    rows = roster.rows
    header = [
        tr._("<b>{team}</b> · {municipality}", team=escape(roster.team.team_name),
             municipality=escape(roster.team.municipality_name)),
        tr.n_("{n} participant", "{n} participants", len(rows)) + " · "
        + tr.n_("{n} webinar held", "{n} webinars held", roster.webinars_held),
    ]
    if not rows:
        return ["\n".join(header) + "\n\n" + tr._("Nobody has joined yet.")]
    module = min(roster.webinars_held + 1, COURSE_MODULES)
    header.append(tr._("Prepared module {number}: {done} of {total}", number=module,
                       done=sum(1 for r in rows if module in r.prepared), total=len(rows)))
    sent = sum(r.checkins_sent for r in rows)
    if sent:
        header.append(tr._("Check-ins answered: {done} of {sent}",
                           done=sum(r.checkins_done for r in rows), sent=sent))
    unreachable = sum(1 for r in rows if r.unreachable)
    if unreachable:
        header.append("⚠️ " + tr.n_("{n} person cannot get messages",
                                    "{n} people cannot get messages", unreachable))
    header.append("<i>" + tr._("📖 modules prepared · ✉️ check-ins answered/sent · "
                               "👥 webinars attended · ⚠️ cannot get messages") + "</i>")
    lines = []
    for row in rows:
        name = ("<b>" + escape(_short(row.name)) + "</b>" if row.name
                else "<i>" + tr._("no name yet") + "</i>")
        parts = [name, "📖 " + _modules(row.prepared)]
        if row.checkins_sent:
            parts.append(f"✉️ {row.checkins_done}/{row.checkins_sent}")
        parts.append(f"👥 {row.attended}")
        lines.append(" · ".join(parts) + (" ⚠️" if row.unreachable else ""))
    return split_messages("\n".join(header), lines, separator="\n")


def split_messages(
    header: str, blocks: list[str], limit: int = MAX_MESSAGE, separator: str = "\n\n"
) -> list[str]:
    """Blocks joined by blank lines (or ``separator``) into as few messages as fit, never
    splitting a block; the header is apart from them by a blank line."""
    messages: list[str] = []
    current = header
    gap = "\n\n"  # the header stands apart; blocks follow one another with ``separator``
    for block in blocks:
        candidate = current + gap + block if current else block
        if len(candidate) > limit and current:
            messages.append(current)
            current = block
        else:
            current = candidate
        gap = separator
    messages.append(current)
    return messages


# -- screens: webinars -------------------------------------------------------------------------


def _webinar_line(tr: Tr, webinar: WebinarInfo) -> str:
    when = tr.when(webinar.starts_at, webinar.tz)
    line = tr._("{number}. {when}", number=webinar.module_no, when=when)
    if webinar.cancelled:
        return "<s>" + line + "</s> " + tr._("(cancelled)")
    if webinar.moved_from is not None:
        return line + " " + tr._("(moved)")
    return line


def webinars_screen(tr: Tr, team: TeamInfo, webinars: list[WebinarInfo], now: datetime) -> Screen:
    lines = [tr._("<b>Webinars of {team}</b>", team=escape(team.team_name))]
    lines += [_webinar_line(tr, w) for w in webinars]
    lines.append("")
    lines.append(tr._("Choose a webinar to move or cancel it."))
    # One per row, each with its date: on a phone the list above may be scrolled away.
    return Screen.of("\n".join(lines), *[
        [Button(_webinar_label(tr, w), callback(WEBINAR, w.webinar_id))]
        for w in webinars if not w.started(now)
    ])


def _webinar_label(tr: Tr, webinar: WebinarInfo) -> str:
    """A button for one webinar: "Module 2 · 14 Jan 2027"."""
    return (tr._("Module {number}", number=webinar.module_no) + " · "
            + tr.date(webinar.starts_at.astimezone(webinar.tz).date(), "medium"))


def webinar_screen(tr: Tr, webinar: WebinarInfo, now: datetime) -> Screen:
    title = tr._("<b>Webinar for module {number}</b>", number=webinar.module_no)
    back = [Button(tr._("‹ All webinars"), callback(WEBINARS, webinar.team_id))]
    if webinar.started(now):
        return Screen.of(title + "\n" + _webinar_line(tr, webinar) + "\n\n"
                         + tr._("This webinar has already started, so it cannot be changed."),
                         back)
    w = webinar.webinar_id
    moves = [
        Button(tr._("+1 hour"), callback(MOVE_ASK, w, "h")),
        Button(tr._("+1 day"), callback(MOVE_ASK, w, "d")),
        Button(tr._("+1 week"), callback(MOVE_ASK, w, "w")),
    ]
    rows: list[list[Button]] = [moves, [Button(tr._("Type a new time"), callback(MOVE_TYPE, w))]]
    if not webinar.cancelled:
        rows.append([Button(tr._("Cancel this webinar"), callback(CANCEL_ASK, w))])
    rows.append(back)
    return Screen.of(title + "\n" + _webinar_line(tr, webinar), *rows)


def move_confirm_screen(tr: Tr, webinar: WebinarInfo, new_start: datetime) -> Screen:
    text = "\n\n".join((
        tr._("Move the webinar for module {number} to {when}?", number=webinar.module_no,
             when=tr.when(new_start, webinar.tz)),
        tr._("Everyone in the team gets a message about the new time, and the reminders "
             "follow."),
    ))
    return Screen.of(
        text,
        [Button(tr._("Yes, move it"), callback(MOVE_OK, webinar.webinar_id,
                                               int(new_start.timestamp())))],
        [Button(tr._("No, go back"), callback(WEBINAR, webinar.webinar_id))],
    )


def type_time_screen(tr: Tr, webinar: WebinarInfo) -> Screen:
    return Screen.of(
        tr._("Write the new date and time like this: {example}",
             example="<code>" + local_plus(webinar.starts_at, webinar.tz, timedelta(days=1))
             .astimezone(webinar.tz).strftime("%Y-%m-%d %H:%M") + "</code>"),
        [Button(tr._("No, go back"), callback(WEBINAR, webinar.webinar_id))],
    )


def move_problem_screen(tr: Tr, problem: MoveProblem, webinar: WebinarInfo) -> Screen:
    if problem is MoveProblem.PAST:
        text = tr._("That time has passed. Please write a time in the future.")
    else:
        text = tr._("I could not read that time. Please write it like this: {example}",
                    example="<code>2027-01-14 19:00</code>")
    return Screen.of(text, [Button(tr._("No, go back"), callback(WEBINAR, webinar.webinar_id))])


def _told_later(webinar: WebinarInfo, now: datetime) -> datetime | None:
    """When the team hears of a change made now, if the night holds it back."""
    told = events.announce_at(now, webinar.starts_at, webinar.tz)
    return told if told > now else None


def moved_screen(tr: Tr, webinar: WebinarInfo, now: datetime) -> Screen:
    later = _told_later(webinar, now)
    when = tr.when(webinar.starts_at, webinar.tz)
    if later is None:
        text = tr._("Done. The webinar for module {number} is now on {when}. The team is told.",
                    number=webinar.module_no, when=when)
    else:
        text = tr._("Done. The webinar for module {number} is now on {when}. The team is told "
                    "at {time}, after the night.", number=webinar.module_no, when=when,
                    time=tr.time(later, webinar.tz))
    return Screen.of(text, [Button(tr._("‹ All webinars"), callback(WEBINARS, webinar.team_id))])


def cancel_confirm_screen(tr: Tr, webinar: WebinarInfo) -> Screen:
    return Screen.of(
        tr._("Cancel the webinar for module {number} on {when}? Everyone in the team gets a "
             "message.", number=webinar.module_no, when=tr.when(webinar.starts_at, webinar.tz)),
        [Button(tr._("Yes, cancel it"), callback(CANCEL_OK, webinar.webinar_id))],
        [Button(tr._("No, keep it"), callback(WEBINAR, webinar.webinar_id))],
    )


def cancelled_screen(tr: Tr, webinar: WebinarInfo, now: datetime) -> Screen:
    later = _told_later(webinar, now)
    if later is None:
        text = tr._("The webinar for module {number} is cancelled. The team is told.",
                    number=webinar.module_no)
    else:
        text = tr._("The webinar for module {number} is cancelled. The team is told at {time}, "
                    "after the night.", number=webinar.module_no, time=tr.time(later, webinar.tz))
    return Screen.of(text, [Button(tr._("‹ All webinars"), callback(WEBINARS, webinar.team_id))])


# -- screens: attendance -----------------------------------------------------------------------


def attendance_webinars_screen(
    tr: Tr, team: TeamInfo, webinars: list[WebinarInfo], now: datetime
) -> Screen:
    held = [w for w in webinars if w.started(now) and not w.cancelled]
    if not held:
        return Screen.of(tr._("No webinar has taken place yet. You can mark attendance when "
                              "a webinar has started."))
    return Screen.of(
        tr._("<b>Attendance in {team}</b>\nWhich webinar?", team=escape(team.team_name)),
        *[[Button(_webinar_label(tr, w), callback(ATTENDANCE, w.webinar_id))] for w in held],
    )


def attendance_screen(tr: Tr, sheet: AttendanceSheet) -> Screen:
    webinar = sheet.webinar
    present = sum(1 for r in sheet.rows if r.attended)
    heading = "\n".join((
        tr._("<b>Attendance, module {number}</b>", number=webinar.module_no),
        tr.when(webinar.starts_at, webinar.tz),
    ))
    if not sheet.rows:  # no "0 of 0"
        return Screen.of(heading + "\n\n" + tr._("Nobody has joined yet."))
    text = "\n".join((
        heading,
        tr._("Tap a name to mark it: ✓ attended, ✗ did not attend."),
        tr._("Attended: {present} of {total}", present=present, total=len(sheet.rows)),
    ))
    mark = {True: "✓", False: "✗", None: "·"}
    return Screen.of(text, *[
        [Button(f"{mark[row.attended]} {row.name or tr._('no name yet')}",
                callback(MARK, webinar.webinar_id, row.membership_id))]
        for row in sheet.rows
    ])
