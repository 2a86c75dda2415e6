"""The instructor in chat, end to end: joining by invite, /team, /broadcast, /sessions and
/attendance through the real Application and the local Bot API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.local_api import SimMessage
from bot.sandbox import Sandbox
from dialogs import instructor
from dialogs.coordinator import CreatedTeam
from dialogs.delivery.kinds import InstructorKind, Kind
from storage import queries
from storage.clock import FrozenClock
from storage.models import (
    Answer,
    Attendance,
    AuditLog,
    Broadcast,
    BroadcastStatus,
    Consent,
    Invite,
    Membership,
    ModuleProgress,
    OutboxMessage,
    OutboxStatus,
    Person,
    QuestionnaireResponse,
    Role,
    SessionStatus,
)

from .helpers import WORDS, join, make_team

IDA = 8101  # the instructor
KIM, LEA = 8201, 8202  # participants
CPH = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
async def world(sandbox: Sandbox) -> Sandbox:
    return sandbox


# -- steps -------------------------------------------------------------------------------------


async def become_instructor(
    sandbox: Sandbox, user_id: int, code: str, *, name: str = "Ida", language: str = "en"
) -> None:
    sandbox.api.add_user(user_id, name, language_code=language)
    await sandbox.send_text(user_id, f"/start {code}")
    await sandbox.press(user_id, "I agree")
    await sandbox.press(user_id, f"Use “{name}”")


async def team_with_people(
    sandbox: Sandbox, participants: tuple[int, ...] = (KIM,), *, name: str = "Hold 3",
    instructor_id: int = IDA,
) -> CreatedTeam:
    created = await make_team(sandbox, name=name)
    await become_instructor(sandbox, instructor_id, created.instructor_invite.code)
    for number, user_id in enumerate(participants):
        await join(sandbox, user_id, created.participant_invite.code, language="en",
                   first_name=("Kim", "Lea", "Mo")[number])
    return created


async def time_passes(sandbox: Sandbox, clock: FrozenClock, minutes: int = 5) -> None:
    clock.advance(timedelta(minutes=minutes))
    if sandbox.pace is not None:
        sandbox.pace.pause(300)
    assert sandbox.delivery is not None
    await sandbox.delivery.run_once()


def last(sandbox: Sandbox, chat_id: int) -> SimMessage:
    message = sandbox.api.last_message_to(chat_id)
    assert message is not None
    return message


def shown(sandbox: Sandbox, chat_id: int) -> list[str]:
    return [m.text or m.caption or "" for m in sandbox.api.messages_to(chat_id)]


def label_starting(sandbox: Sandbox, chat_id: int, prefix: str) -> str:
    labels = [t for t in last(sandbox, chat_id).button_texts() if t.startswith(prefix)]
    assert labels, f"no button starting {prefix!r} in {last(sandbox, chat_id).button_texts()}"
    return labels[0]


def button_data(message: SimMessage, label: str) -> str:
    return next(str(b["callback_data"]) for b in message.buttons() if b.get("text") == label)


async def outbox_rows(sandbox: Sandbox, kind: str) -> list[OutboxMessage]:
    async with sandbox.services.sessions() as session:
        return list(await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)))


# -- joining -----------------------------------------------------------------------------------


async def test_an_instructor_joins_by_invite(world: Sandbox) -> None:
    created = await make_team(world)
    code = created.instructor_invite.code
    world.api.add_user(IDA, "Ida", language_code="en")
    await world.send_text(IDA, f"/start {code}")
    notice = last(world, IDA).text or ""
    assert "instructor of Hold 3" in notice
    assert "never their answers" in notice
    await world.press(IDA, "I agree")
    assert "/broadcast" in "\n".join(shown(world, IDA))
    await world.press(IDA, "Use “Ida”")

    async with world.services.sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == IDA))
        assert person is not None
        assert person.display_name == "Ida"
        membership = await session.scalar(select(Membership).where(
            Membership.person_id == person.id))
        assert membership is not None
        assert (membership.role, membership.team_id) == (Role.INSTRUCTOR, created.team.id)
        assert membership.study_id.startswith("I-")
        invite = await session.get(Invite, created.instructor_invite.invite.id)
        assert invite is not None
        assert invite.uses == 1
        grant = await session.scalar(select(AuditLog).where(AuditLog.action == "role.grant"))
        assert grant is not None
        assert (grant.actor, grant.subject) == (f"invite:{invite.id}", membership.study_id)
        consent = await session.scalar(select(Consent).where(Consent.person_id == person.id))
        assert consent is not None
        assert consent.version.startswith("staff-")
    # The instructor commands show in this person's menu only.
    menu = {c["command"] for c in world.api.commands({"type": "chat", "chat_id": IDA})}
    assert {"team", "broadcast", "sessions", "attendance"} <= menu
    assert "team" not in {c["command"] for c in world.api.commands(
        {"type": "all_private_chats"})}

    # Single use: the link does nothing for the next person.
    world.api.add_user(IDA + 1, "Other", language_code="en")
    await world.send_text(IDA + 1, f"/start {code}")
    assert "already been used" in (last(world, IDA + 1).text or "")


# -- /team -------------------------------------------------------------------------------------


async def test_team_shows_progress_and_never_answers(world: Sandbox, clock: FrozenClock) -> None:
    created = await team_with_people(world, (KIM, LEA))
    await world.press(KIM, WORDS["en"].prepared)
    world.api.block(LEA, tell_bot=False)
    async with world.services.sessions.begin() as session:
        kim = await session.scalar(select(Membership).join(Person).where(
            Person.telegram_user_id == KIM))
        assert kim is not None
        lea_person = await session.scalar(select(Person).where(Person.telegram_user_id == LEA))
        assert lea_person is not None
        lea_person.unreachable_at = clock.now()
        # A completed check-in with answers the instructor must never see.
        response = QuestionnaireResponse(
            membership_id=kim.id, questionnaire_key="checkin", questionnaire_version="1",
            occasion="checkin-1", language="en", completed_at=clock.now())
        session.add(response)
        await session.flush()
        session.add(Answer(response_id=response.id, item_key="note",
                           value_text="SECRET-ANSWER-TEXT", answered_at=clock.now()))
        session.add(OutboxMessage(
            person_id=kim.person_id, chat_id=KIM, kind=Kind.CHECKIN, dedup_key="test:checkin",
            payload={"membership_id": kim.id, "occasion": "checkin-1"}, due_at=clock.now(),
            status=OutboxStatus.SENT, sent_at=clock.now(), created_at=clock.now()))
        webinars = await queries.team_sessions(session, created.team.id)
        session.add(Attendance(session_id=webinars[0].id, membership_id=kim.id, attended=True,
                               marked_at=clock.now()))

    await world.send_text(IDA, "/team")
    roster = last(world, IDA).text or ""
    lines = roster.splitlines()
    assert lines[:2] == ["Hold 3 · Køge", "2 participants · 0 webinars held"]
    # The team on top, a one-line legend, then one line per person.
    assert lines[2:5] == [
        "Prepared module 1: 1 of 2",
        "Check-ins answered: 1 of 1",
        "⚠️ 1 person cannot get messages",
    ]
    assert lines[5].startswith("📖 modules prepared · ✉️ check-ins answered/sent")
    assert lines[6] == ""
    assert lines[7:] == ["Kim · 📖 1 · ✉️ 1/1 · 👥 1", "Lea · 📖 – · 👥 0 ⚠️"]
    assert "0 of 0" not in roster  # Lea had no check-in, so she has no check-in count
    assert all("SECRET" not in text for text in shown(world, IDA))
    assert max(len(line) for line in lines[7:]) <= 40  # one short line each on a phone


def test_a_long_roster_is_split_under_telegrams_limit() -> None:
    blocks = [f"<b>Person {n}</b>\n" + "x" * 300 for n in range(40)]
    messages = instructor.split_messages("header", blocks)
    assert len(messages) > 1
    assert all(len(m) <= instructor.MAX_MESSAGE for m in messages)
    assert sum(m.count("<b>Person") for m in messages) == 40


# -- /broadcast --------------------------------------------------------------------------------


async def test_broadcast_preview_confirm_and_report_counts_the_blocked(
    world: Sandbox, clock: FrozenClock
) -> None:
    created = await team_with_people(world, (KIM, LEA))
    await time_passes(world, clock)  # what joining planned goes out first
    world.api.block(LEA, tell_bot=False)  # the bot does not know yet: it learns from a 403

    await world.send_text(IDA, "/broadcast")
    assert "Write your message" in (last(world, IDA).text or "")
    await world.send_text(IDA, "Tonight <b>we</b> meet & talk")
    preview, question = world.api.messages_to(IDA)[-2:]
    assert preview.text == "Message from Ida, your instructor\n\nTonight <b>we</b> meet & talk"
    assert "Send it to 2 participants in Hold 3?" in (question.text or "")
    send = button_data(question, "Send")
    await world.press(IDA, "Send")
    assert "Sending to 2 participants" in (last(world, IDA).text or "")
    await world.handled(world.api.press_forged(IDA, question.message_id, send))  # a double tap
    assert "already on its way" in (last(world, IDA).text or "")
    assert len(await outbox_rows(world, InstructorKind.BROADCAST)) == 2

    await time_passes(world, clock)
    assert last(world, KIM).text == preview.text  # exactly what the preview showed
    await time_passes(world, clock)
    report = last(world, IDA).text or ""
    assert "Received by 1 participant." in report
    assert "1 has blocked the bot" in report

    async with world.services.sessions() as session:
        broadcast = await session.scalar(select(Broadcast))
        assert broadcast is not None
        assert broadcast.status == BroadcastStatus.CONFIRMED
        rows = await outbox_rows(world, InstructorKind.BROADCAST)
        assert {r.broadcast_id for r in rows} == {broadcast.id}
        assert sorted(r.status for r in rows) == [OutboxStatus.FAILED, OutboxStatus.SENT]
        assert await session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "broadcast.send")) == 1
    assert created.team.id == broadcast.team_id


async def test_a_cancelled_broadcast_sends_nothing(world: Sandbox, clock: FrozenClock) -> None:
    await team_with_people(world)
    await world.send_text(IDA, "/broadcast")
    await world.send_text(IDA, "Never mind")
    question = last(world, IDA)
    send = button_data(question, "Send")  # messages change in place when edited
    await world.press(IDA, "Cancel")
    assert "Nothing was sent" in (last(world, IDA).text or "")
    # A tap that was on its way when the message changed.
    await world.handled(world.api.press_forged(IDA, question.message_id, send))
    assert "cancelled" in (last(world, IDA).text or "")
    await time_passes(world, clock)
    assert await outbox_rows(world, InstructorKind.BROADCAST) == []
    assert all("Never mind" not in t for t in shown(world, KIM))
    async with world.services.sessions() as session:
        broadcast = await session.scalar(select(Broadcast))
        assert broadcast is not None
        assert broadcast.status == BroadcastStatus.CANCELLED


async def test_a_too_long_broadcast_is_refused_kindly(world: Sandbox) -> None:
    await team_with_people(world)
    await world.send_text(IDA, "/broadcast")
    await world.send_text(IDA, "ø" * 3900)
    assert "3900 characters long" in (last(world, IDA).text or "")
    await world.send_text(IDA, "Short now")  # still waiting for the text
    assert "Send it to 1 participant" in (last(world, IDA).text or "")



async def test_a_photo_broadcast_is_previewed_and_resent_by_file_id(
    world: Sandbox, clock: FrozenClock
) -> None:
    await team_with_people(world)
    await time_passes(world, clock)
    await world.send_text(IDA, "/broadcast")
    await world.handled(world.api.send_photo(IDA, caption="Our room for Thursday"))
    preview = world.api.messages_to(IDA)[-2]
    assert preview.media_kind == "photo"
    assert preview.caption == "Message from Ida, your instructor\n\nOur room for Thursday"
    await world.press(IDA, "Send")
    await time_passes(world, clock)
    received = last(world, KIM)
    assert received.media_kind == "photo"
    assert received.caption == preview.caption
    assert received.file is not None
    assert preview.file is not None
    assert received.file.data == preview.file.data


# -- /sessions ---------------------------------------------------------------------------------


async def test_moving_a_webinar_moves_its_reminders_and_tells_the_team_once(
    world: Sandbox, clock: FrozenClock
) -> None:
    created = await team_with_people(world)
    await time_passes(world, clock)
    old_start = created.session_starts[1]

    await world.send_text(IDA, "/sessions")
    overview = last(world, IDA).text or ""
    assert "2. Thursday, 14 January 2027 at 19:00" in overview
    # Each button says its date, one per row: no matching against the list above.
    keyboard = (last(world, IDA).reply_markup or {})["inline_keyboard"]
    assert {len(row) for row in keyboard} == {1}
    assert "Module 2 · 14 Jan 2027" in last(world, IDA).button_texts()
    await world.press(IDA, "Module 2 · 14 Jan 2027")
    await world.press(IDA, "+1 day")
    assert "Friday, 15 January 2027 at 19:00" in (last(world, IDA).text or "")
    await world.press(IDA, "Yes, move it")
    confirm = last(world, IDA)
    assert "is now on Friday, 15 January 2027 at 19:00" in (confirm.text or "")

    new_start = old_start + timedelta(days=1)
    reminders = [r for r in await outbox_rows(world, Kind.WEBINAR_REMINDER)
                 if r.payload["module_no"] == 2]
    pending = [r for r in reminders if r.status == OutboxStatus.PENDING]
    assert pending
    assert {r.payload["starts_at"] for r in pending} == {new_start.isoformat()}
    assert all(r.status == OutboxStatus.CANCELLED for r in reminders
               if r.payload["starts_at"] == old_start.isoformat())

    await time_passes(world, clock)
    announcements = [t for t in shown(world, KIM) if t.startswith("New time")]
    assert len(announcements) == 1
    assert "Friday, 15 January 2027 at 19:00" in announcements[0]

    # A typed time: strict, with a kind word for what it cannot read.
    await world.send_text(IDA, "/sessions")
    await world.press(IDA, label_starting(world, IDA, "Module 3 · "))
    await world.press(IDA, "Type a new time")
    await world.send_text(IDA, "next thursday")
    assert "could not read that time" in (last(world, IDA).text or "")
    await world.send_text(IDA, "2026-01-01 10:00")
    assert "has passed" in (last(world, IDA).text or "")
    await world.send_text(IDA, "2027-01-22 18:30")
    await world.press(IDA, "Yes, move it")
    async with world.services.sessions() as session:
        webinars = await queries.team_sessions(session, created.team.id)
        assert webinars[1].starts_at == new_start
        assert webinars[1].moved_from == old_start
        assert webinars[2].starts_at == datetime(2027, 1, 22, 17, 30, tzinfo=UTC)
        moves = list(await session.scalars(select(AuditLog).where(
            AuditLog.action == "webinar.move")))
        assert len(moves) == 2
        assert all(m.actor.startswith("I-") for m in moves)


async def test_cancelling_a_webinar_tells_the_team(world: Sandbox, clock: FrozenClock) -> None:
    created = await team_with_people(world)
    await time_passes(world, clock)
    await world.send_text(IDA, "/sessions")
    await world.press(IDA, label_starting(world, IDA, "Module 4 · "))
    await world.press(IDA, "Cancel this webinar")
    await world.press(IDA, "No, keep it")
    await world.press(IDA, "Cancel this webinar")
    question = last(world, IDA)
    yes = button_data(question, "Yes, cancel it")
    await world.press(IDA, "Yes, cancel it")
    # A double tap announces nothing twice.
    await world.handled(world.api.press_forged(IDA, question.message_id, yes))
    await time_passes(world, clock)
    cancelled = [t for t in shown(world, KIM) if t.startswith("Cancelled")]
    assert len(cancelled) == 1
    async with world.services.sessions() as session:
        webinars = await queries.team_sessions(session, created.team.id)
        assert webinars[3].status == SessionStatus.CANCELLED
        assert await session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.action == "webinar.cancel")) == 1
    reminders = [r for r in await outbox_rows(world, Kind.WEBINAR_REMINDER)
                 if r.payload["module_no"] == 4]
    assert all(r.status == OutboxStatus.CANCELLED for r in reminders)


# -- /attendance -------------------------------------------------------------------------------


async def test_marking_attendance(world: Sandbox, clock: FrozenClock) -> None:
    await team_with_people(world, (KIM, LEA))
    await world.send_text(IDA, "/attendance")
    assert "No webinar has taken place yet" in (last(world, IDA).text or "")

    clock.set(datetime(2027, 1, 7, 18, 30, tzinfo=UTC))  # webinar 1 has begun
    await world.send_text(IDA, "/attendance")
    await world.press(IDA, label_starting(world, IDA, "Module 1"))
    assert last(world, IDA).button_texts() == ["· Kim", "· Lea"]
    await world.press(IDA, "· Kim")
    await world.press(IDA, "· Lea")
    await world.press(IDA, "✓ Lea")
    sheet = last(world, IDA)
    assert sheet.button_texts() == ["✓ Kim", "✗ Lea"]
    assert "Attended: 1 of 2" in (sheet.text or "")
    async with world.services.sessions() as session:
        marks = {m.attended for m in await session.scalars(select(Attendance))}
        assert marks == {True, False}
        ida = await session.scalar(select(Membership).where(Membership.role == Role.INSTRUCTOR))
        assert ida is not None
        assert {m.marked_by for m in await session.scalars(select(Attendance))} == {ida.id}
        assert await session.scalar(select(func.count()).select_from(ModuleProgress)) >= 1


async def test_people_whose_names_look_alike_are_told_apart_on_the_roster(
    world: Sandbox,
) -> None:
    created = await make_team(world)
    await become_instructor(world, IDA, created.instructor_invite.code)
    # Three people: one Kim, one with an invisible joiner, one with a Cyrillic і.
    for user_id, telegram_name, offered in ((8301, "Kim", "Kim"), (8302, "Kim\u034f", "Kim"),
                                            (8303, "K\u0456m", "K\u0456m")):
        world.api.add_user(user_id, telegram_name, language_code="en")
        await world.send_text(user_id, f"/start {created.participant_invite.code}")
        for label in ("✓ English", WORDS["en"].next, WORDS["en"].agree, WORDS["en"].adult,
                      WORDS["en"].use_name.format(name=offered)):
            await world.press(user_id, label)
    # A name that only looks blank is refused kindly; a real one is taken.
    world.api.add_user(8304, "\u3164", language_code="en")
    await world.send_text(8304, f"/start {created.participant_invite.code}")
    for label in ("✓ English", WORDS["en"].next, WORDS["en"].agree, WORDS["en"].adult):
        await world.press(8304, label)
    # Nothing to offer from Telegram: only "write another name".
    assert last(world, 8304).button_texts() == [WORDS["en"].other_name]
    await world.press(8304, WORDS["en"].other_name)
    await world.send_text(8304, "\u3164\u200b")
    assert "name with letters" in (world.api.last_message_to(8304).text or "")
    await world.send_text(8304, "Mo")

    await world.send_text(IDA, "/team")
    roster = last(world, IDA).text or ""
    assert "4 participants" in roster
    for label in ("Kim (1)", "Kim (2)", "K\u0456m (3)", "Mo"):
        assert label in roster
    assert "\u034f" not in roster
    assert "\u3164" not in roster
