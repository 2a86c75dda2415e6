"""An instructor writes to the whole team: draft, preview, confirm or cancel, delivery report.

A broadcast is a ``Broadcast`` row from the first draft on; confirming it puts one outbox row
per reachable participant (kind ``broadcast``) and one report row for the instructor in the
same transaction, so a confirmed broadcast is always sent and always reported. The outbox
renders each copy with :func:`broadcast_message`, the same function the preview uses, so the
instructor sees exactly what the team will see (in their own language).

Broadcasts respect quiet hours and pauses like every other non-urgent message: an instructor
writing late in the evening should not wake the team, and the confirm screen says so when it
is that time now. A webinar moved or cancelled at short notice has its own announcement
(``/sessions``). A team gets at most a few broadcasts a day (``MESTRING_BROADCASTS_PER_DAY``,
counted on the team's clock): the limit is checked when the instructor starts writing and
again, under a lock on the team, when they confirm.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.callbacks import INT, Action, callback
from dialogs.delivery import keys, outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import InstructorKind
from dialogs.delivery.timeplan import at_local, local_date, quiet_until
from dialogs.instructor_auth import Refusal, RefusalReason, require_instructor
from dialogs.screen import Button, Media, Screen, escape
from locales.i18n import Tr
from storage.models import (
    AuditLog,
    Broadcast,
    BroadcastStatus,
    Membership,
    MembershipStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Team,
)

STATE = "instructor_broadcast"  # waiting for the text (data: team_id)

SEND = Action("ibs", INT)  # ibs:<broadcast id>
DISCARD = Action("ibn", INT)  # ibn:<broadcast id>
STOP = Action("ibx")  # stop waiting for a text
ACTIONS = (SEND, DISCARD, STOP)

MEDIA_KINDS = frozenset({"photo", "document"})
# Telegram's limits are 4096 (text) and 1024 (caption) UTF-16 units after parsing; the header
# naming the instructor takes the rest, in the longest language.
MAX_TEXT = 3800
MAX_CAPTION = 900
# A broadcast held back by quiet hours or a pause is still worth reading for a while.
VALID_FOR = timedelta(days=3)
# Confirmed broadcasts per team per local day, unless the deployment sets another number.
BROADCASTS_PER_DAY = 3
# The report waits until the copies have gone; it looks again this long after the last one
# is due.
REPORT_AFTER = timedelta(minutes=1)

_FINAL = (OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.EXPIRED, OutboxStatus.CANCELLED)


def utf16_length(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units: an emoji may count two)."""
    return len(text.encode("utf-16-le")) // 2


class DraftProblem(enum.StrEnum):
    EMPTY = "empty"
    TOO_LONG = "too_long"
    UNSUPPORTED = "unsupported"


def check_draft(text: str, media_kind: str | None) -> DraftProblem | None:
    if media_kind is not None and media_kind not in MEDIA_KINDS:
        return DraftProblem.UNSUPPORTED
    if media_kind is None and not text.strip():
        return DraftProblem.EMPTY
    if utf16_length(text) > (MAX_CAPTION if media_kind else MAX_TEXT):
        return DraftProblem.TOO_LONG
    return None


# -- the message itself ------------------------------------------------------------------------


def broadcast_screen(
    tr: Tr, author_name: str | None, text: str, media_kind: str | None,
    media_file_id: str | None,
) -> Screen:
    """What a participant receives; the preview is this very screen."""
    if author_name:
        header = tr._("<b>Message from {name}, your instructor</b>", name=escape(author_name))
    else:
        header = tr._("<b>Message from your instructor</b>")
    body = escape(text.strip())
    media = (
        Media(media_kind, media_file_id)  # type: ignore[arg-type]
        if media_file_id and media_kind in ("photo", "document") else None
    )
    return Screen(header + ("\n\n" + body if body else ""), media=media)


async def broadcast_message(session: AsyncSession, broadcast_id: int, tr: Tr) -> Screen | None:
    """The screen for a broadcast, or None when it is gone or was cancelled."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or broadcast.status == BroadcastStatus.CANCELLED:
        return None
    author_name = None
    if broadcast.author_membership_id is not None:
        author_name = await session.scalar(
            select(Person.display_name)
            .join(Membership, Membership.person_id == Person.id)
            .where(Membership.id == broadcast.author_membership_id)
        )
    return broadcast_screen(tr, author_name, broadcast.text, broadcast.media_kind,
                            broadcast.media_file_id)


# -- use-cases ---------------------------------------------------------------------------------


async def _recipients(
    session: AsyncSession, team_id: int, now: datetime
) -> list[tuple[int, int, int, bool]]:
    """(membership id, person id, chat id, reachable) of the team's active participants."""
    rows = await session.execute(
        select(Membership.id, Person.id, Person.chat_id, Person.unreachable_at)
        .join(Person, Person.id == Membership.person_id)
        .where(
            Membership.team_id == team_id,
            Membership.role == Role.PARTICIPANT,
            Membership.status == MembershipStatus.ACTIVE,
            Membership.joined_at <= now,
        )
        .order_by(Membership.id)
    )
    return [(m, p, c, unreachable is None) for m, p, c, unreachable in rows]


@dataclass(frozen=True)
class Draft:
    broadcast_id: int
    team_name: str
    recipients: int  # reachable participants who will get it
    unreachable: int  # participants the bot cannot write to
    tz: ZoneInfo
    # Confirmed now, it waits for the end of the team's quiet hours (None: it goes at once).
    waits_until: datetime | None = None


@dataclass(frozen=True)
class Start:
    team_name: str
    sent_today: int
    per_day: int

    @property
    def limit_reached(self) -> bool:
        return self.sent_today >= self.per_day


async def sent_today(session: AsyncSession, team: Team, now: datetime) -> int:
    """Broadcasts confirmed for the team since midnight on the team's clock."""
    tz = ZoneInfo(team.timezone)
    midnight = at_local(local_date(now, tz), time(0), tz)
    return int(await session.scalar(select(func.count(Broadcast.id)).where(
        Broadcast.team_id == team.id, Broadcast.status == BroadcastStatus.CONFIRMED,
        Broadcast.confirmed_at >= midnight,
    )) or 0)


async def start_broadcast(
    session: AsyncSession, *, person_id: int, team_id: int, now: datetime,
    per_day: int = BROADCASTS_PER_DAY,
) -> Start:
    """Check the role, and the day's limit before the instructor writes anything."""
    await require_instructor(session, person_id, team_id)
    team = await session.get(Team, team_id)
    assert team is not None
    return Start(team.name, await sent_today(session, team, now), per_day)


def waits_until(
    now: datetime, tz: ZoneInfo, config: DeliveryConfig | None = None
) -> datetime | None:
    """When a broadcast confirmed ``now`` goes out, if the team's quiet hours hold it back."""
    config = config or DeliveryConfig()
    return quiet_until(now, tz, config.quiet_start, config.quiet_end)


async def draft_broadcast(
    session: AsyncSession,
    *,
    person_id: int,
    team_id: int,
    text: str,
    media_kind: str | None,
    media_file_id: str | None,
    now: datetime,
) -> Draft:
    """Store what the instructor wrote as a draft (the caller checked it with check_draft)."""
    author = await require_instructor(session, person_id, team_id)
    broadcast = Broadcast(
        team_id=team_id, author_membership_id=author.id, text=text, media_kind=media_kind,
        media_file_id=media_file_id, status=BroadcastStatus.DRAFT, created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    team = await session.get(Team, team_id)
    assert team is not None
    people = await _recipients(session, team_id, now)
    reachable = sum(1 for *_, ok in people if ok)
    tz = ZoneInfo(team.timezone)
    return Draft(broadcast.id, team.name, reachable, len(people) - reachable, tz,
                 waits_until(now, tz))


class ConfirmStatus(enum.StrEnum):
    SENDING = "sending"
    ALREADY_SENT = "already_sent"
    ALREADY_CANCELLED = "already_cancelled"
    DAILY_LIMIT = "daily_limit"  # the team has had its broadcasts for today


@dataclass(frozen=True)
class Confirmed:
    status: ConfirmStatus
    recipients: int = 0
    per_day: int = BROADCASTS_PER_DAY


async def _own_broadcast(
    session: AsyncSession, person_id: int, broadcast_id: int
) -> tuple[Broadcast, Membership]:
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise Refusal(RefusalReason.NOT_FOUND)
    return broadcast, await require_instructor(session, person_id, broadcast.team_id)


async def confirm_broadcast(
    session: AsyncSession, *, person_id: int, broadcast_id: int, now: datetime,
    per_day: int = BROADCASTS_PER_DAY,
) -> Confirmed:
    """Fan out: one outbox row per reachable participant, and the report row.

    The draft becomes confirmed by one conditional UPDATE, so a double tap, or the same draft
    confirmed from two devices at once, fans out exactly once. The day's limit is counted
    while the team's row is locked, so two instructors confirming at once cannot both take
    the last one (SQLite's write transaction holds the database lock already)."""
    broadcast, instructor = await _own_broadcast(session, person_id, broadcast_id)
    team = await session.get(Team, broadcast.team_id, with_for_update=True,
                             populate_existing=True)
    assert team is not None
    if broadcast.status == BroadcastStatus.DRAFT and await sent_today(session, team, now) \
            >= per_day:
        return Confirmed(ConfirmStatus.DAILY_LIMIT, per_day=per_day)
    confirmed = await session.scalar(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.DRAFT)
        .values(status=BroadcastStatus.CONFIRMED, confirmed_at=now)
        .returning(Broadcast.id)
        .execution_options(synchronize_session=False)
    )
    if confirmed is None:
        await session.refresh(broadcast)
        if broadcast.status == BroadcastStatus.CANCELLED:
            return Confirmed(ConfirmStatus.ALREADY_CANCELLED)
        return Confirmed(ConfirmStatus.ALREADY_SENT)  # a double tap sends nothing twice
    people = await _recipients(session, broadcast.team_id, now)
    rows = [
        outbox.NewRow(
            person_id=person, chat_id=chat, kind=InstructorKind.BROADCAST,
            dedup_key=keys.broadcast_copy(broadcast.id, membership), due_at=now,
            expires_at=now + VALID_FOR, broadcast_id=broadcast.id,
            payload={"membership_id": membership, "broadcast_id": broadcast.id},
        )
        for membership, person, chat, reachable in people if reachable
    ]
    unreachable = len(people) - len(rows)
    await outbox.add_rows(session, rows, now)
    instructor_person = await session.get(Person, person_id)
    assert instructor_person is not None
    await outbox.add_rows(session, [report_row(
        broadcast.id, instructor.id, person_id, instructor_person.chat_id,
        now + REPORT_AFTER, unreachable_before=unreachable,
    )], now)
    session.add(AuditLog(
        at=now, actor=instructor.study_id, action="broadcast.send",
        subject=f"broadcast:{broadcast.id}",
        details={"team_id": broadcast.team_id, "recipients": len(rows),
                 "media": broadcast.media_kind},
    ))
    return Confirmed(ConfirmStatus.SENDING, len(rows))


def report_row(
    broadcast_id: int, membership_id: int, person_id: int, chat_id: int, due_at: datetime,
    *, unreachable_before: int,
) -> outbox.NewRow:
    """The instructor's delivery report; its key names the moment, so a later look is new."""
    return outbox.NewRow(
        person_id=person_id, chat_id=chat_id, kind=InstructorKind.BROADCAST_REPORT,
        dedup_key=keys.broadcast_report(broadcast_id, due_at), due_at=due_at,
        expires_at=due_at + VALID_FOR + timedelta(days=1),
        payload={"membership_id": membership_id, "broadcast_id": broadcast_id,
                 "unreachable_before": unreachable_before},
    )


async def discard_broadcast(session: AsyncSession, *, person_id: int, broadcast_id: int) -> bool:
    """Cancel a draft; False when it was already sent (then nothing changes). Conditional,
    like confirming: of a confirm and a cancel at the same moment, exactly one wins."""
    broadcast, _ = await _own_broadcast(session, person_id, broadcast_id)
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.DRAFT)
        .values(status=BroadcastStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(broadcast)
    return broadcast.status == BroadcastStatus.CANCELLED


@dataclass(frozen=True)
class BroadcastReport:
    team_name: str
    created_at: datetime
    sent: int
    blocked: int  # blocked the bot or left Telegram (now or before the broadcast)
    failed: int  # anything else: expired during a long pause, left the team, refused
    waiting: int  # not sent yet
    next_look: datetime | None  # when the last waiting copy is due

    @property
    def done(self) -> bool:
        return self.waiting == 0


async def broadcast_report(
    session: AsyncSession, broadcast_id: int, *, unreachable_before: int = 0
) -> BroadcastReport:
    """How the copies of a broadcast fared (counts only: no names, no text)."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise LookupError(f"no broadcast {broadcast_id}")
    team = await session.get(Team, broadcast.team_id)
    assert team is not None
    rows = (await session.execute(
        select(OutboxMessage.status, OutboxMessage.due_at, OutboxMessage.claimed_until,
               Person.unreachable_at)
        .outerjoin(Person, Person.id == OutboxMessage.person_id)
        .where(OutboxMessage.broadcast_id == broadcast_id,
               OutboxMessage.kind == InstructorKind.BROADCAST)
    )).all()
    sent = blocked = failed = waiting = 0
    next_look: datetime | None = None
    for status, due_at, claimed_until, unreachable_at in rows:
        if status == OutboxStatus.SENT:
            sent += 1
        elif status not in _FINAL:
            waiting += 1
            moment = claimed_until if status == OutboxStatus.CLAIMED and claimed_until else due_at
            next_look = moment if next_look is None else max(next_look, moment)
        elif unreachable_at is not None:
            blocked += 1
        else:
            failed += 1
    return BroadcastReport(team.name, broadcast.created_at, sent,
                           blocked + unreachable_before, failed, waiting, next_look)


# -- screens -----------------------------------------------------------------------------------


def daily_limit_screen(tr: Tr, team_name: str, per_day: int) -> Screen:
    return Screen.of(tr.n_(
        "{team} has had {n} message from you today. That is the daily limit, so the team is "
        "not flooded. You can write again tomorrow.",
        "{team} has had {n} messages from you today. That is the daily limit, so the team is "
        "not flooded. You can write again tomorrow.",
        per_day, team=escape(team_name),
    ))


def write_screen(tr: Tr, team_name: str) -> Screen:
    return Screen.of(
        "\n\n".join((
            tr._("<b>Message to {team}</b>", team=escape(team_name)),
            tr._("Write your message now. You can also send a photo or a file with a "
                 "caption. You will see it before it is sent."),
        )),
        [Button(tr._("Cancel"), callback(STOP))],
    )


def draft_problem_screen(tr: Tr, problem: DraftProblem, media_kind: str | None,
                         length: int) -> Screen:
    match problem:
        case DraftProblem.TOO_LONG:
            text = tr._(
                "Your message is {length} characters long. Please keep it under {max} "
                "characters and send it again.",
                length=length, max=MAX_CAPTION if media_kind else MAX_TEXT,
            )
        case DraftProblem.UNSUPPORTED:
            text = tr._("I can send a text, a photo or a file. Please send one of those.")
        case _:
            text = tr._("Please write some text for your message.")
    return Screen.of(text, [Button(tr._("Cancel"), callback(STOP))])


def confirm_screen(tr: Tr, draft: Draft) -> Screen:
    lines = [
        tr._("Above is how your message will look."),
        tr.n_("Send it to {n} participant in {team}?", "Send it to {n} participants in {team}?",
              draft.recipients, team=escape(draft.team_name)),
    ]
    if draft.unreachable:
        lines.append(tr.n_(
            "{n} participant cannot get messages from me right now.",
            "{n} participants cannot get messages from me right now.", draft.unreachable,
        ))
    if draft.waits_until is not None:
        lines.append(tr._("It is night for the team now, so I wait and send it at {time}.",
                          time=tr.time(draft.waits_until, draft.tz)))
    else:
        lines.append(tr._("I send it right away."))
    return Screen.of(
        "\n".join(lines),
        [Button(tr._("Send"), callback(SEND, draft.broadcast_id)),
         Button(tr._("Cancel"), callback(DISCARD, draft.broadcast_id))],
    )


def confirmed_screen(tr: Tr, confirmed: Confirmed) -> Screen:
    match confirmed.status:
        case ConfirmStatus.SENDING:
            return Screen.of(tr.n_(
                "Sending to {n} participant. I will tell you when it has gone out.",
                "Sending to {n} participants. I will tell you when it has gone out.",
                confirmed.recipients,
            ))
        case ConfirmStatus.ALREADY_SENT:
            return Screen.of(tr._("This message is already on its way."))
        case ConfirmStatus.DAILY_LIMIT:
            return Screen.of(tr.n_(
                "Not sent: the team has had {n} message today, which is the daily limit. "
                "You can write again tomorrow.",
                "Not sent: the team has had {n} messages today, which is the daily limit. "
                "You can write again tomorrow.",
                confirmed.per_day,
            ))
        case _:
            return Screen.of(tr._("This message was cancelled, so it was not sent."))


def discarded_screen(tr: Tr, discarded: bool) -> Screen:
    if discarded:
        return Screen.of(tr._("Cancelled. Nothing was sent."))
    return Screen.of(tr._("This message is already on its way, so it cannot be cancelled."))


def stopped_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("Cancelled. Nothing was sent."))


def report_screen(tr: Tr, report: BroadcastReport) -> Screen:
    lines = [
        tr._("<b>Your message to {team} has gone out</b>", team=escape(report.team_name)),
        tr.n_("Received by {n} participant.", "Received by {n} participants.", report.sent),
    ]
    if report.blocked:
        lines.append(tr.n_(
            "{n} has blocked the bot or left Telegram.",
            "{n} have blocked the bot or left Telegram.", report.blocked,
        ))
    if report.failed:
        lines.append(tr.n_("{n} could not be reached.", "{n} could not be reached.",
                           report.failed))
    return Screen.of("\n".join(lines))
