"""The instructor's briefing before each webinar and the attendance prompt after, end to end:
planned by the real planner, sent by the dispatcher through the local Bot API, with the
counts, the names the privacy notice allows and the small-cell rule for the average."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from dialogs.occasion import Occasion
from storage.clock import FrozenClock
from storage.models import (
    Answer,
    Membership,
    ModuleProgress,
    Person,
    QuestionnaireResponse,
    Role,
)
from tests.delivery.helpers import run_timeline

from .helpers import join, make_team
from .test_instructor import IDA, become_instructor, last

PEOPLE = {9301: "Kim", 9302: "Kim", 9303: "Lea", 9304: "Mo", 9305: "Sam", 9306: "Ane"}


def advance_api(sandbox: Sandbox):  # the local Bot API's flood control moves with our clock
    def advance(delta: object) -> None:
        if sandbox.pace is not None:
            sandbox.pace.pause(3600.0)
    return advance


async def until(sandbox: Sandbox, clock: FrozenClock, moment: datetime) -> None:
    assert sandbox.delivery is not None
    await run_timeline(sandbox.delivery.dispatcher, clock, moment,
                       on_advance=advance_api(sandbox))
    clock.set(moment)


async def memberships(sandbox: Sandbox) -> dict[int, Membership]:
    """Participants by Telegram user id."""
    async with sandbox.services.sessions() as session:
        rows = await session.execute(
            select(Person.telegram_user_id, Membership).join(Membership).where(
                Membership.role == Role.PARTICIPANT))
        return {user_id: membership for user_id, membership in rows}


async def answer_checkin(sandbox: Sandbox, clock: FrozenClock, week: int,
                         coping: dict[int, float]) -> None:
    members = await memberships(sandbox)
    async with sandbox.services.sessions.begin() as session:
        for user_id, value in coping.items():
            response = QuestionnaireResponse(
                membership_id=members[user_id].id, questionnaire_key="checkin",
                questionnaire_version="1", occasion=str(Occasion.checkin(week)), language="en",
                started_at=clock.now(), completed_at=clock.now())
            session.add(response)
            await session.flush()
            session.add(Answer(response_id=response.id, item_key="coping", value_number=value,
                               answered_at=clock.now()))


async def briefings(sandbox: Sandbox) -> list[str]:
    return [m.text or "" for m in sandbox.api.messages_to(IDA)
            if "Open the roster" in m.button_texts()]


@pytest.fixture
async def team(sandbox: Sandbox) -> int:
    created = await make_team(sandbox, first_session=datetime(2027, 1, 7, 19, 0))
    await become_instructor(sandbox, IDA, created.instructor_invite.code)
    for user_id, name in PEOPLE.items():
        await join(sandbox, user_id, created.participant_invite.code, language="en",
                   first_name=name)
    return created.team.id


async def test_briefings_count_name_and_hold_back_small_averages(
    sandbox: Sandbox, clock: FrozenClock, team: int
) -> None:
    # Webinar 1 is on Thursday 7 January at 19:00 Copenhagen time (18:00 UTC).
    await until(sandbox, clock, datetime(2027, 1, 7, 16, 5, tzinfo=UTC))
    (first,) = await briefings(sandbox)
    assert first.splitlines() == [
        "Webinar 1 at 19:00 · Hold 3",
        "Prepared module 1: 0 of 6",  # nobody pressed "done" yet; no check-in before week 1
        "Everyone can get messages.",
    ]

    # After the webinar: one prompt, straight into attendance for that webinar.
    await until(sandbox, clock, datetime(2027, 1, 7, 19, 5, tzinfo=UTC))
    prompt = last(sandbox, IDA)
    assert (prompt.text or "").startswith("Webinar 1 is over")
    await sandbox.press(IDA, "Mark attendance")
    sheet = last(sandbox, IDA)
    assert (sheet.text or "").startswith("Attendance, module 1")
    assert "✓ Kim (1)" not in sheet.button_texts()
    await sandbox.press(IDA, "· Kim (1)")
    assert "✓ Kim (1)" in last(sandbox, IDA).button_texts()

    # Week 2: four of six answered the check-in (too few for an average), two prepared,
    # and Mo blocked the bot.
    await until(sandbox, clock, datetime(2027, 1, 8, 12, 0, tzinfo=UTC))
    await answer_checkin(sandbox, clock, 1, {9301: 3, 9302: 4, 9303: 9, 9305: 10})
    members = await memberships(sandbox)
    async with sandbox.services.sessions.begin() as session:
        for user_id in (9301, 9303):
            session.add(ModuleProgress(membership_id=members[user_id].id, module_no=2,
                                       opened_at=clock.now(), done_at=clock.now()))
        mo = await session.scalar(select(Person).where(Person.telegram_user_id == 9304))
        assert mo is not None
        mo.unreachable_at = clock.now()
    await until(sandbox, clock, datetime(2027, 1, 14, 16, 5, tzinfo=UTC))
    second = (await briefings(sandbox))[-1]
    assert second.splitlines() == [
        "Webinar 2 at 19:00 · Hold 3",
        "Prepared module 2: 2 of 6 – Kim (1), Lea",
        "Check-in after webinar 1: 4 of 6 answered · no average below 5 answers",
        "Cannot get messages: Mo",
    ]

    # Week 3: five answers (Mo got no check-in), so the average is shown.
    await until(sandbox, clock, datetime(2027, 1, 15, 12, 0, tzinfo=UTC))
    await answer_checkin(sandbox, clock, 2, {9301: 4, 9302: 5, 9303: 6, 9305: 7, 9306: 8})
    await until(sandbox, clock, datetime(2027, 1, 21, 16, 5, tzinfo=UTC))
    third = (await briefings(sandbox))[-1]
    assert third.splitlines()[2] == (
        "Check-in after webinar 2: 5 of 5 answered · average coping 6 of 10")
    assert len(await briefings(sandbox)) == 3  # one per webinar, never twice


@pytest.mark.parametrize("language", ["da", "nb"])
async def test_the_briefing_speaks_the_instructors_language(
    sandbox: Sandbox, clock: FrozenClock, language: str
) -> None:
    created = await make_team(sandbox, first_session=datetime(2027, 1, 7, 19, 0))
    tr = sandbox.services.catalogs.tr(language)
    sandbox.api.add_user(IDA, "Ida", language_code=language)
    await sandbox.send_text(IDA, f"/start {created.instructor_invite.code}")
    await sandbox.press(IDA, tr._("I agree"))
    await sandbox.press(IDA, tr._("Use “{name}”", name="Ida"))
    await join(sandbox, 9301, created.participant_invite.code, language=language)
    await until(sandbox, clock, datetime(2027, 1, 7, 16, 5, tzinfo=UTC))
    message = last(sandbox, IDA)
    english = "Prepared module {number}: {done} of {total}"
    assert tr._(english, number=1, done=0, total=1) in (message.text or "")
    assert tr._(english) != english
    assert message.button_texts() == [tr._("Open the roster")]


async def test_the_briefing_comes_as_long_before_as_the_deployment_says(
    settings: Settings, clock: FrozenClock, tmp_path
) -> None:
    """MESTRING_BRIEFING_MINUTES_BEFORE=180: three hours before, not the default two, for a
    webinar planned when the instructor joined and for one moved later."""
    settings = settings.model_copy(update={"briefing_minutes_before": 180})
    async with open_sandbox(settings=settings, clock=clock,
                            database_url=f"sqlite:///{tmp_path / 'briefing.sqlite3'}") as bot:
        created = await make_team(bot, first_session=datetime(2027, 1, 7, 19, 0))
        await become_instructor(bot, IDA, created.instructor_invite.code)
        await join(bot, 9301, created.participant_invite.code, language="en")
        # Webinar 1 at 18:00 UTC: nothing at 14:55, the briefing by 15:05.
        await until(bot, clock, datetime(2027, 1, 7, 14, 55, tzinfo=UTC))
        assert await briefings(bot) == []
        await until(bot, clock, datetime(2027, 1, 7, 15, 5, tzinfo=UTC))
        assert len(await briefings(bot)) == 1
