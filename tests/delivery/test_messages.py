"""Every kind of message, in every language, through the real bot and the local Bot API,
with the clock moved by the test (no sleeping)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.local_api import SimMessage
from bot.sandbox import Sandbox
from dialogs.delivery.events import cancel_webinar, move_webinar
from dialogs.delivery.kinds import INSTRUCTOR_KINDS, Kind
from dialogs.delivery.planner import replan_team
from storage import queries
from storage.clock import FrozenClock
from storage.models import OutboxStatus, Person, Role
from tests.delivery.helpers import WEBINAR_URL, add_members, make_team, rows, run_timeline

USER = 7001
INSTRUCTOR = 7002
WEEKDAY = {"da": "torsdag", "nb": "torsdag", "en": "thursday"}
CPH = ZoneInfo("Europe/Copenhagen")


def _advance_api(sandbox: Sandbox):  # the local Bot API's flood control moves with our clock
    def advance(delta: timedelta) -> None:
        if sandbox.pace is not None:
            sandbox.pace.pause(min(delta.total_seconds(), 3600.0))
    return advance


def _message(sandbox: Sandbox, chat_id: int, message_id: int | None) -> SimMessage:
    found = [m for m in sandbox.api.messages_to(chat_id) if m.message_id == message_id]
    assert found, f"message {message_id} not in chat"
    return found[0]


def _buttons(message: SimMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["text"] for row in markup.get("inline_keyboard", []) for b in row]


def _urls(message: SimMessage) -> list[str]:
    markup = message.reply_markup or {}
    return [b["url"] for row in markup.get("inline_keyboard", []) for b in row if "url" in b]


async def _setup(sandbox: Sandbox, clock: FrozenClock, language: str) -> int:
    sandbox.api.add_user(USER, "Alex", language_code=language)
    sandbox.api.add_user(INSTRUCTOR, "Ida", language_code=language)
    async with sandbox.services.sessions.begin() as session:
        team = await make_team(session)
        await add_members(session, team, [USER], joined_at=clock.now(), locale=language)
        await add_members(session, team, [INSTRUCTOR], joined_at=clock.now(), locale=language,
                          role=Role.INSTRUCTOR)
        await replan_team(session, team.id, clock.now())
        team_id = team.id
    # Telegram lets a bot write only to people who wrote to it first (the invite link's /start).
    await sandbox.send_text(USER, "/start")
    await sandbox.send_text(INSTRUCTOR, "/start")
    return team_id


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_each_kind_reaches_the_participant_in_their_language(
    sandbox: Sandbox, clock: FrozenClock, language: str
) -> None:
    team_id = await _setup(sandbox, clock, language)
    tr = sandbox.services.catalogs.tr(language)
    start = clock.now()
    delivery = sandbox.delivery
    assert delivery is not None
    # Week 1 as planned; then webinar 3 moves by a day and webinar 4 is cancelled.
    await run_timeline(delivery.dispatcher, clock, start + timedelta(days=8),
                       on_advance=_advance_api(sandbox))
    async with sandbox.services.sessions.begin() as session:
        webinars = await queries.team_sessions(session, team_id)
        await move_webinar(session, webinars[2].id, webinars[2].starts_at + timedelta(days=1),
                           clock.now())
        await cancel_webinar(session, webinars[3].id, clock.now())
        # Announcing the same change again adds nothing: once per participant.
        await move_webinar(session, webinars[2].id, webinars[2].starts_at, clock.now())
    await run_timeline(delivery.dispatcher, clock, start + timedelta(weeks=20),
                       on_advance=_advance_api(sandbox))

    everything = [r for r in await rows(sandbox.services.sessions)
                  if r.status == OutboxStatus.SENT]
    staff = [r for r in everything if r.chat_id == INSTRUCTOR]
    sent = [r for r in everything if r.chat_id == USER]
    kinds = {r.kind for r in sent}
    assert kinds == set(Kind) - INSTRUCTOR_KINDS, f"missing {set(Kind) - kinds}"
    # The instructor: a briefing before and a prompt after each of the five webinars held.
    assert sorted(r.kind for r in staff) == sorted([Kind.INSTRUCTOR_BRIEFING] * 5
                                                   + [Kind.ATTENDANCE_PROMPT] * 5)
    for row in staff:
        message = _message(sandbox, INSTRUCTOR, row.telegram_message_id)
        if row.kind == Kind.ATTENDANCE_PROMPT:
            assert _buttons(message) == [tr._("Mark attendance")]
        else:
            assert tr._("Open the roster") in _buttons(message)
            assert tr.time(webinar_start(row.payload["starts_at"]), CPH) in (message.text or "")
    assert sum(r.kind == Kind.WEBINAR_MOVED for r in sent) == 1
    assert sum(r.kind == Kind.WEBINAR_CANCELLED for r in sent) == 1
    assert {r.payload["occasion"] for r in sent if r.kind == Kind.EVALUATION} == {
        "baseline", "post", "followup"}

    for row in sent:
        message = _message(sandbox, USER, row.telegram_message_id)
        text = message.text or message.caption or ""
        if row.kind == Kind.WEBINAR_REMINDER:
            starts = webinar_start(row.payload["starts_at"])
            if row.payload["offset_minutes"] >= 1440:
                assert tr.when(starts, CPH) in text
                assert WEEKDAY[language] in text.lower() or row.payload["module_no"] == 3
            else:
                assert tr.time(starts, CPH) in text
            assert _urls(message) == [WEBINAR_URL]
        elif row.kind in (Kind.CHECKIN, Kind.CHECKIN_REMINDER, Kind.EVALUATION):
            assert _buttons(message) == [tr._("Start"), tr._("Not now")]
        elif row.kind == Kind.PREP_NUDGE:
            assert tr._("Not now") in _buttons(message)
        elif row.kind == Kind.MODULE_OPEN:
            assert tr._("Done with my preparation") in _buttons(message)
        elif row.kind == Kind.WEBINAR_CANCELLED:
            assert tr.when(webinar_start(row.payload["starts_at"]), CPH) in text
        if row.kind in (Kind.WEBINAR_MOVED, Kind.WEBINAR_CANCELLED):  # the updated calendar
            assert message.file is not None
            assert message.file.file_name == "webinars.ics"


def webinar_start(iso: str):
    from datetime import datetime

    return datetime.fromisoformat(iso)


async def test_reminders_land_at_the_planned_local_times(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    await _setup(sandbox, clock, "da")
    assert sandbox.delivery is not None
    await run_timeline(sandbox.delivery.dispatcher, clock, clock.now() + timedelta(days=4),
                       on_advance=_advance_api(sandbox))
    sent = [r for r in await rows(sandbox.services.sessions, kind=Kind.WEBINAR_REMINDER)
            if r.status == OutboxStatus.SENT]
    assert sorted(r.sent_at.astimezone(CPH).strftime("%a %H:%M") for r in sent) == [
        "Thu 18:00", "Wed 19:00"]


async def test_a_reminder_is_never_sent_late(sandbox: Sandbox, clock: FrozenClock) -> None:
    await _setup(sandbox, clock, "da")
    assert sandbox.delivery is not None
    # The bot was down from Monday until the webinar had started.
    clock.advance(timedelta(days=3, hours=9, minutes=30))  # Thu 18:30 UTC = 19:30 local
    report = await sandbox.delivery.run_once()
    reminders = await rows(sandbox.services.sessions, kind=Kind.WEBINAR_REMINDER)
    first_week = [r for r in reminders if r.payload["module_no"] == 1]
    assert {r.status for r in first_week} == {OutboxStatus.EXPIRED}
    assert report.expired >= 2
    texts = [m.text or "" for m in sandbox.api.messages_to(USER)]
    assert not any("starter snart" in t or "starts soon" in t for t in texts)


async def test_a_changed_language_applies_to_messages_not_yet_sent(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    await _setup(sandbox, clock, "da")
    assert sandbox.delivery is not None
    async with sandbox.services.sessions.begin() as session:
        person = await queries.get_person_by_telegram_id(session, USER)
        assert person is not None
        person.locale = "en"  # type: ignore[assignment]
    before = len(sandbox.api.messages_to(USER))
    await sandbox.delivery.run_once()
    texts = [m.text or "" for m in sandbox.api.messages_to(USER)[before:]]
    assert len(texts) == 2
    assert all("Module 1" in t or "questions" in t for t in texts)


async def test_quiet_hours_and_pause_defer_a_prompt(sandbox: Sandbox, clock: FrozenClock) -> None:
    await _setup(sandbox, clock, "da")
    assert sandbox.delivery is not None
    await sandbox.delivery.run_once()  # the welcome messages
    async with sandbox.services.sessions.begin() as session:
        person = await queries.get_person_by_telegram_id(session, USER)
        assert person is not None
        person.paused_until = clock.now() + timedelta(days=2, hours=3)  # until Wed 12:00 UTC
    # Wednesday 10:00 local: the prep nudge is due, but the person paused until 13:00 local.
    await run_timeline(sandbox.delivery.dispatcher, clock, clock.now() + timedelta(days=2, hours=1),
                       on_advance=_advance_api(sandbox))
    nudge = (await rows(sandbox.services.sessions, kind=Kind.PREP_NUDGE))[0]
    assert nudge.status == OutboxStatus.PENDING
    await run_timeline(sandbox.delivery.dispatcher, clock, clock.now() + timedelta(hours=3),
                       on_advance=_advance_api(sandbox))
    nudge = (await rows(sandbox.services.sessions, kind=Kind.PREP_NUDGE))[0]
    assert nudge.status == OutboxStatus.SENT
    assert nudge.sent_at.astimezone(CPH).strftime("%a %H:%M") == "Wed 13:00"


async def test_blocked_participant_is_marked_unreachable_and_nothing_else_is_tried(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    await _setup(sandbox, clock, "da")
    assert sandbox.delivery is not None
    sandbox.api.block(USER, tell_bot=False)  # the bot missed it: it learns from a 403
    calls = len(sandbox.api.calls_to("sendMessage"))
    report = await sandbox.delivery.run_once()
    assert report.unreachable == 1
    async with sandbox.services.sessions() as session:
        person = await session.get(Person, 1)
        assert person is not None
        assert person.unreachable_at == clock.now()
    statuses = {r.status for r in await rows(sandbox.services.sessions) if r.chat_id == USER}
    assert statuses <= {OutboxStatus.FAILED, OutboxStatus.CANCELLED}
    # The second message due for them was not even tried.
    assert len(sandbox.api.calls_to("sendMessage")) == calls + 1


async def test_not_now_asks_again_tomorrow_at_ten(sandbox: Sandbox, clock: FrozenClock) -> None:
    await _setup(sandbox, clock, "en")
    assert sandbox.delivery is not None
    await sandbox.delivery.run_once()
    baseline = (await rows(sandbox.services.sessions, kind=Kind.EVALUATION))[0]
    assert baseline.payload["occasion"] == "baseline"
    assert baseline.status == OutboxStatus.SENT
    await sandbox.press(USER, "Not now", message_id=baseline.telegram_message_id)
    edited = _message(sandbox, USER, baseline.telegram_message_id)
    assert "I will ask again" in (edited.text or "")
    assert not _buttons(edited)
    again = [r for r in await rows(sandbox.services.sessions) if r.dedup_key.startswith("later:")]
    assert len(again) == 1
    assert again[0].due_at.astimezone(CPH).strftime("%a %H:%M") == "Tue 10:00"
    # The next morning, for the bot and for Telegram's per-chat flood window alike: on the
    # API's clock alone, a slow machine left the edit and this send within one second.
    _advance_api(sandbox)(again[0].due_at - clock.now())
    clock.set(again[0].due_at)
    await sandbox.delivery.run_once()
    last = sandbox.api.last_message_to(USER)
    assert last is not None
    assert "ten minutes" in (last.text or "")


async def test_a_team_s_reminders_in_one_batch_each_read_in_the_reader_s_language(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    # The renderer formats a team's reminder once a batch per language: each reader must still
    # get their own language, and readers of one language the same text.
    readers = {7101: "da", 7102: "nb", 7103: "da", 7104: "en", 7105: "nb"}
    async with sandbox.services.sessions.begin() as session:
        team = await make_team(session)
        for user, language in readers.items():
            sandbox.api.add_user(user, "P", language_code=language)
            await add_members(session, team, [user], joined_at=clock.now(), locale=language)
        await replan_team(session, team.id, clock.now())
    for user in readers:
        await sandbox.send_text(user, "/start")
    assert sandbox.delivery is not None
    await run_timeline(sandbox.delivery.dispatcher, clock, clock.now() + timedelta(days=4),
                       on_advance=_advance_api(sandbox))
    day_before = {r.chat_id: r for r in await rows(sandbox.services.sessions,
                                                   kind=Kind.WEBINAR_REMINDER)
                  if r.status == OutboxStatus.SENT and r.payload["module_no"] == 1
                  and r.payload["offset_minutes"] >= 1440}
    assert sorted(day_before) == sorted(readers)
    assert len({r.sent_at for r in day_before.values()}) == 1  # one batch
    texts = {user: _message(sandbox, user, row.telegram_message_id).text or ""
             for user, row in day_before.items()}
    for user, language in readers.items():
        tr = sandbox.services.catalogs.tr(language)
        starts = webinar_start(day_before[user].payload["starts_at"])
        assert tr.when(starts, CPH) in texts[user]
        assert WEEKDAY[language] in texts[user].lower()
    assert texts[7101] == texts[7103]
    assert texts[7102] == texts[7105]
    assert len(set(texts.values())) == 3
