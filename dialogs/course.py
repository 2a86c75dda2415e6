"""The six modules as a participant meets them: the plan, each module's message, /course.

A module opens on joining (module 1) or a set time before its webinar; its message has the
e-learning link, short steps behind a "Next" button, and "Done with my preparation".
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import (
    bindparam,
    func,
    null,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.callbacks import INT, Action, callback
from dialogs.content.course import Course, Module, load_course
from dialogs.screen import Button, Screen, escape
from locales.i18n import Tr
from storage.bulk import chunked, insert_ignoring
from storage.models import (
    Membership,
    MembershipStatus,
    ModuleProgress,
    Municipality,
    Role,
    SessionStatus,
    Team,
    UTCDateTime,
    WebinarSession,
)
from storage.quick import PlainQuery

# Module N (N ≥ 2) opens this long before webinar N: the day after the previous webinar.
MODULE_OPENS_BEFORE_WEBINAR = timedelta(days=6)

STEP = Action("ms", INT, INT)  # show a module's step: ms:<module>:<step>
DONE = Action("md", INT)  # done with my preparation: md:<module>
HELPFUL = Action("mh", INT)  # this week's tool helps me (dialogs/helpful_tools.py): mh:<module>


@cache
def default_course() -> Course:
    """The shipped course content, validated once (it is immutable data)."""
    return load_course()


def module_opens_at(
    module_no: int, webinar_starts_at: datetime, joined_at: datetime, tz: ZoneInfo
) -> datetime:
    """Module 1 on joining; module N six days before its webinar, at the same local time."""
    if module_no == 1:
        return joined_at
    # Aware arithmetic in the team's zone is wall-clock arithmetic: 19:00 stays 19:00 local
    # even when a daylight-saving change falls inside the six days.
    local = webinar_starts_at.astimezone(tz) - MODULE_OPENS_BEFORE_WEBINAR
    return local.astimezone(UTC)


class ModuleStatus(enum.StrEnum):
    DONE = "done"
    OPEN = "open"
    LOCKED = "locked"


@dataclass(frozen=True)
class ModuleRow:
    module: Module
    status: ModuleStatus
    opens_at: datetime
    webinar_at: datetime | None
    webinar_cancelled: bool


@dataclass(frozen=True)
class CourseView:
    team_name: str
    timezone: ZoneInfo
    webinar_url: str | None
    rows: tuple[ModuleRow, ...]


# -- use-cases -------------------------------------------------------------------------------


async def participant_membership(session: AsyncSession, person_id: int) -> Membership | None:
    """The person's active participant membership (one team at a time), team loaded."""
    return await session.scalar(
        select(Membership)
        .where(
            Membership.person_id == person_id,
            Membership.role == Role.PARTICIPANT,
            Membership.status == MembershipStatus.ACTIVE,
        )
        .order_by(Membership.joined_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class Participation:
    """A participant's active membership and its team, as far as the course needs them.

    The actor loader reads it with the person (bot/actor.py), so /course and the module
    buttons do not load the membership and the team again on every update."""

    membership_id: int
    joined_at: datetime
    team_id: int
    team_name: str
    timezone: str
    webinar_url: str | None

    @classmethod
    def of(cls, membership: Membership, team: Team) -> Participation:
        return cls(membership.id, membership.joined_at, team.id, team.name, team.timezone,
                   team.webinar_url)


@cache
def _view_query() -> PlainQuery:
    """Built once (the course view runs for every /course and module button): building a
    statement costs more than running this one, and SQLAlchemy keeps its compiled form.
    The team's webinars and the membership's progress in one statement: a webinar's row has
    its ``starts_at`` (never NULL), a progress row has none. The first SELECT gives the
    columns their types, so its empty progress columns are typed as theirs."""
    no_time = type_coerce(null(), UTCDateTime())
    return PlainQuery(union_all(
        select(WebinarSession.module_no, WebinarSession.starts_at, WebinarSession.status,
               no_time.label("opened_at"), no_time.label("done_at"))
        .where(WebinarSession.team_id == bindparam("team")),
        select(ModuleProgress.module_no, null(), null(), ModuleProgress.opened_at,
               ModuleProgress.done_at)
        .where(ModuleProgress.membership_id == bindparam("membership")),
    ))


async def course_view(
    session: AsyncSession, membership: Membership, now: datetime, course: Course | None = None
) -> CourseView:
    team = await session.get(Team, membership.team_id)
    assert team is not None
    return await participation_view(session, Participation.of(membership, team), now, course)


async def participation_view(
    session: AsyncSession, participation: Participation, now: datetime,
    course: Course | None = None,
) -> CourseView:
    """The course as this participant sees it now: one plain query (webinars and progress),
    as /course and every module button need it."""
    course = course or default_course()
    # Plain rows: no ORM (nor, on SQLite, Core) result machinery (storage/quick.py).
    sessions, progress = {}, {}
    for row in await _view_query().rows(session, {
            "team": participation.team_id, "membership": participation.membership_id}):
        (progress if row.starts_at is None else sessions)[row.module_no] = row
    tz = ZoneInfo(participation.timezone)
    rows = []
    for module in course.modules:
        webinar = sessions.get(module.number)
        opens_at = module_opens_at(
            module.number, webinar.starts_at if webinar else now, participation.joined_at, tz
        )
        record = progress.get(module.number)
        if record is not None and record.done_at is not None:
            status = ModuleStatus.DONE
        elif (record is not None and record.opened_at is not None) or opens_at <= now:
            status = ModuleStatus.OPEN
        else:
            status = ModuleStatus.LOCKED
        rows.append(ModuleRow(
            module=module,
            status=status,
            opens_at=opens_at,
            webinar_at=webinar.starts_at if webinar else None,
            webinar_cancelled=webinar is not None and webinar.status == SessionStatus.CANCELLED,
        ))
    return CourseView(participation.team_name, tz, participation.webinar_url, tuple(rows))


async def open_module(
    session: AsyncSession, membership_id: int, module_no: int, now: datetime
) -> bool:
    """Record that a module's message went out; False if it was open already."""
    await _progress_row(session, membership_id, module_no)
    opened = await session.scalar(
        update(ModuleProgress)
        .where(ModuleProgress.membership_id == membership_id,
               ModuleProgress.module_no == module_no, ModuleProgress.opened_at.is_(None))
        .values(opened_at=now)
        .returning(ModuleProgress.id)
        .execution_options(synchronize_session=False)
    )
    return opened is not None


async def open_modules(
    session: AsyncSession, opened: Sequence[tuple[int, int]], now: datetime
) -> None:
    """:func:`open_module` for a dispatcher batch of (membership, module) pairs: two
    executemany statements instead of two statements a message (a module opens for everyone
    in the same minutes)."""
    if not opened:
        return
    pairs = sorted(set(opened))
    await insert_ignoring(session, ModuleProgress,
                          [{"membership_id": m, "module_no": n} for m, n in pairs],
                          ["membership_id", "module_no"])
    table = ModuleProgress.__table__
    stamp = (
        update(table)
        .where(table.c.membership_id == bindparam("m"), table.c.module_no == bindparam("n"),
               table.c.opened_at.is_(None))
        .values(opened_at=bindparam("at"))
    )
    for chunk in chunked(pairs):
        await session.execute(stamp, [{"m": m, "n": n, "at": now} for m, n in chunk])


async def _progress_row(session: AsyncSession, membership_id: int, module_no: int) -> None:
    """Make sure the (membership, module) row exists. The person pressing "done" and the
    outbox recording the module's opening may both create it at the same moment: the insert
    does nothing when the row is there, so neither fails."""
    await insert_ignoring(session, ModuleProgress,
                          [{"membership_id": membership_id, "module_no": module_no}],
                          ["membership_id", "module_no"])


async def open_row(
    session: AsyncSession, membership: Membership, module_no: int, now: datetime
) -> ModuleRow | None:
    """The participant's row for ``module_no`` if it has opened (None: locked or no such
    module): what their own module buttons may act on."""
    view = await course_view(session, membership, now)
    row = next((r for r in view.rows if r.module.number == module_no), None)
    return None if row is None or row.status is ModuleStatus.LOCKED else row


class PrepResult(enum.StrEnum):
    MARKED = "marked"
    ALREADY = "already"
    LOCKED = "locked"
    NOT_A_PARTICIPANT = "not_a_participant"


async def mark_prepared(
    session: AsyncSession, person_id: int, module_no: int, now: datetime
) -> PrepResult:
    """The presser's own module only, and only once it has opened."""
    membership = await participant_membership(session, person_id)
    if membership is None:
        return PrepResult.NOT_A_PARTICIPANT
    row = await open_row(session, membership, module_no, now)
    if row is None:
        return PrepResult.LOCKED
    if row.status is ModuleStatus.DONE:
        return PrepResult.ALREADY
    await _progress_row(session, membership.id, module_no)
    # One conditional statement: of two taps at the same moment, exactly one marks it.
    marked = await session.scalar(
        update(ModuleProgress)
        .where(ModuleProgress.membership_id == membership.id,
               ModuleProgress.module_no == module_no, ModuleProgress.done_at.is_(None))
        .values(done_at=now, opened_at=func.coalesce(ModuleProgress.opened_at, now))
        .returning(ModuleProgress.id)
        .execution_options(synchronize_session=False)
    )
    return PrepResult.MARKED if marked is not None else PrepResult.ALREADY


# -- screens ---------------------------------------------------------------------------------


def module_opened_screen(
    tr: Tr, module_no: int, *, elearning_url: str | None = None, course: Course | None = None
) -> Screen:
    """The message that opens a module: step 0, announced as new."""
    return module_step_screen(
        tr, module_no, 0, elearning_url=elearning_url, course=course, announce=True
    )


def module_step_screen(
    tr: Tr, module_no: int, step: int, *, elearning_url: str | None = None,
    course: Course | None = None, announce: bool = False, helpful: bool = False,
) -> Screen:
    """Step 0 is the opening, then one short text per step, then the week's tool, which the
    person can mark as helping them (``helpful``: marked already)."""
    module = (course or default_course()).module(module_no)
    last = len(module.steps) + 1
    step = max(0, min(step, last))
    if step == 0:
        heading = (
            tr._("<b>Module {number} is open: {title}</b>", number=module_no,
                 title=escape(tr._(module.title)))
            if announce
            else tr._("<b>Module {number}: {title}</b>", number=module_no,
                      title=escape(tr._(module.title)))
        )
        text = f"{heading}\n\n{escape(tr._(module.about))}"
    elif step < last:
        text = escape(tr._(module.steps[step - 1]))
    else:
        text = "\n\n".join((
            tr._("<b>This week's tool: {name}</b>", name=escape(tr._(module.tool.name))),
            escape(tr._(module.tool.summary)),
            escape(tr._(module.prepare)),
        ))
    if step > 0:
        position = tr._("Step {n} of {total}", n=step, total=last)
        text = f"{text}\n\n<i>{position}</i>"
    next_step = step + 1 if step < last else None
    rows = _module_buttons(tr, module, elearning_url, next_step=next_step)
    if step == last:
        label = tr._("♥ This tool helps me") if helpful else tr._("♡ This tool helps me")
        rows.insert(0, [Button(label, callback(HELPFUL, module_no))])
    return Screen.of(text, *rows)


def _module_buttons(
    tr: Tr, module: Module, elearning_url: str | None, *, next_step: int | None
) -> list[list[Button]]:
    rows: list[list[Button]] = []
    if next_step is not None:
        rows.append([Button(tr._("Next ›"), callback(STEP, module.number, next_step))])
    rows.append([Button(tr._("Open the e-learning"), url=elearning_url or module.elearning_url)])
    rows.append([Button(tr._("Done with my preparation"), callback(DONE, module.number))])
    return rows


def prepared_screen(tr: Tr, result: PrepResult, module_no: int) -> str:
    """The short answer to "Done with my preparation", shown as a notification."""
    match result:
        case PrepResult.MARKED:
            return tr._("Well done! Module {number} is marked as prepared.", number=module_no)
        case PrepResult.ALREADY:
            return tr._("You have already marked module {number} as prepared.", number=module_no)
        case PrepResult.LOCKED:
            return tr._("Module {number} has not opened yet.", number=module_no)
        case _:
            return tr._("This button belongs to a course you are not in.")


def plan_screen(tr: Tr, view: CourseView) -> Screen:
    lines = [tr._("<b>Your course plan – {team}</b>", team=escape(view.team_name))]
    for row in view.rows:
        title = escape(tr._(row.module.title))
        if row.webinar_at is None:
            continue
        when = tr.when(row.webinar_at, view.timezone)
        if row.webinar_cancelled:
            when = tr._("{when} (cancelled)", when=when)
        lines.append(f"{row.module.number}. {when}\n    {title}")
    lines.append(tr._(
        "Each week: prepare with the e-learning, then join the live webinar. "
        "I send you the link before each webinar."
    ))
    return Screen.of("\n\n".join(lines))


_STATUS_MARK = {ModuleStatus.DONE: "✅", ModuleStatus.OPEN: "📖", ModuleStatus.LOCKED: "🔒"}


def course_screen(tr: Tr, view: CourseView) -> Screen:
    lines = [tr._("<b>The course</b>")]
    buttons: list[list[Button]] = []
    for row in view.rows:
        title = escape(tr._(row.module.title))
        if row.status is ModuleStatus.DONE:
            state = tr._("prepared")
        elif row.status is ModuleStatus.OPEN:
            state = tr._("open")
        else:
            state = tr._("opens {date}", date=tr.day(row.opens_at, view.timezone))
        webinar = ""
        if row.webinar_at is not None:
            when = tr.when(row.webinar_at, view.timezone)
            webinar = "\n    " + tr._("Webinar: {when}", when=when)
            if row.webinar_cancelled:
                webinar = "\n    " + tr._("Webinar cancelled")
        lines.append(f"{_STATUS_MARK[row.status]} {row.module.number}. {title} – {state}{webinar}")
        if row.status is not ModuleStatus.LOCKED:
            buttons.append([Button(
                tr._("Module {number}", number=row.module.number),
                callback(STEP, row.module.number, 0),
            )])
    return Screen.of("\n\n".join(lines), *_pairs(buttons))


def _pairs(rows: list[list[Button]]) -> list[list[Button]]:
    """Two module buttons per row: big enough to hit, few enough rows."""
    flat = [b for row in rows for b in row]
    return [flat[i:i + 2] for i in range(0, len(flat), 2)]


async def team_zone(session: AsyncSession, membership: Membership) -> ZoneInfo:
    """The zone the person's team plans in, for showing their dates."""
    zone = await session.scalar(select(Team.timezone).where(Team.id == membership.team_id))
    assert zone is not None
    return ZoneInfo(zone)


async def participant_country(session: AsyncSession, membership: Membership) -> str:
    """The country of the person's team, for emergency numbers."""
    team = await session.get(Team, membership.team_id)
    assert team is not None
    municipality = await session.get(Municipality, team.municipality_id)
    assert municipality is not None
    return str(municipality.country)


async def webinars_held(session: AsyncSession, membership: Membership, now: datetime) -> int:
    """How many of the team's webinars have started: the course week a plan belongs to."""
    starts = await session.scalars(
        select(WebinarSession.starts_at).where(
            WebinarSession.team_id == membership.team_id,
            WebinarSession.status != SessionStatus.CANCELLED,
        )
    )
    return sum(1 for start in starts if start <= now)
