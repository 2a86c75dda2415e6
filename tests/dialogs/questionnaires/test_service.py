"""Answering questionnaires against the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dialogs.callbacks import decode
from dialogs.questionnaires import engine, load_questionnaires, screens
from dialogs.questionnaires.engine import InvalidAnswer
from dialogs.questionnaires.model import Questionnaire
from dialogs.questionnaires.service import (
    SKIPPED,
    Outcome,
    Status,
    go_back,
    load_response,
    record_answer,
    resume,
    start_or_resume,
    step,
)
from storage import queries
from storage.engine import create_sessionmaker
from storage.models import Answer, Membership, QuestionnaireResponse
from tests.dialogs.questionnaires.helpers import FIXTURES
from tests.storage.helpers import make_person, make_team

NOW = datetime(2025, 3, 6, 20, 0, tzinfo=UTC)
SHIPPED = load_questionnaires()
FIXTURE = load_questionnaires(FIXTURES)
WHO5 = FIXTURE["who5_shape"]
SEMCD6 = FIXTURE["semcd6_shape"]
CHECKIN = SHIPPED["checkin"]


async def member(session: AsyncSession) -> Membership:
    async with session.begin():
        team = await make_team(session)
        return await queries.add_membership(session, await make_person(session), team, now=NOW)


async def start(session: AsyncSession, m: Membership, q: Questionnaire,
                occasion: str = "baseline") -> QuestionnaireResponse:  # fmt: skip
    async with session.begin():
        return await start_or_resume(session, m.id, q, occasion, "da", NOW)


async def answer(session: AsyncSession, response_id: int, q: Questionnaire, key: str,
                 value: float | str | object, *, at: datetime = NOW) -> Outcome:  # fmt: skip
    async with session.begin():
        return await record_answer(session, response_id, key, value, at,  # type: ignore[arg-type]
                                   questionnaire=q)  # fmt: skip


async def ask(session: AsyncSession, response_id: int, q: Questionnaire,
              raw: dict[str, str | None]) -> Outcome:  # fmt: skip
    """Walk the questionnaire as a person would: always answer the item shown next, with
    the value code of a button (None = skip)."""
    async with session.begin():
        response = await load_response(session, response_id)
        assert response is not None
        outcome = step(q, response)
    while outcome.status is Status.NEXT:
        assert outcome.item is not None
        code = raw[outcome.item.key]
        value = SKIPPED if code is None else engine.parse_answer(outcome.item, code)
        outcome = await answer(session, response_id, q, outcome.item.key, value)
    return outcome


async def answer_rows(session: AsyncSession, response_id: int) -> list[Answer]:
    async with session.begin():
        return list(await session.scalars(
            select(Answer).where(Answer.response_id == response_id).order_by(Answer.id)
        ))  # fmt: skip


async def test_a_who5_shaped_index_is_asked_and_scored_as_raw_sum_times_four(
    session: AsyncSession,
) -> None:
    m = await member(session)
    response = await start(session, m, WHO5)
    outcome = await ask(
        session,
        response.id,
        WHO5,
        {"who1": "3", "who2": "4", "who3": "5", "who4": "2", "who5": "5"},
    )
    assert outcome.status is Status.FINISHED
    assert outcome.scores == {"who5_index": (3 + 4 + 5 + 2 + 5) * 4}
    assert not outcome.show_safety
    rows = await answer_rows(session, response.id)
    assert [(a.item_key, a.value_number) for a in rows] == [
        ("who1", 3.0), ("who2", 4.0), ("who3", 5.0), ("who4", 2.0), ("who5", 5.0)
    ]  # fmt: skip


async def test_an_semcd6_shaped_scale_scores_the_mean_of_at_least_four_answers(
    session: AsyncSession,
) -> None:
    m = await member(session)
    four = await start(session, m, SEMCD6, "baseline")
    outcome = await ask(
        session,
        four.id,
        SEMCD6,
        {"se1": "7", "se2": None, "se3": "10", "se4": "1", "se5": None, "se6": "6"},
    )
    assert outcome.status is Status.FINISHED
    assert outcome.scores == {"self_efficacy": pytest.approx((7 + 10 + 1 + 6) / 4)}
    rows = await answer_rows(session, four.id)
    assert [a.item_key for a in rows if a.skipped] == ["se2", "se5"]
    assert all(a.value_number is None for a in rows if a.skipped)

    three = await start(session, m, SEMCD6, "post")
    outcome = await ask(
        session,
        three.id,
        SEMCD6,
        {"se1": "7", "se2": None, "se3": "10", "se4": None, "se5": None, "se6": "6"},
    )
    assert outcome.status is Status.FINISHED
    assert outcome.scores == {"self_efficacy": None}


async def test_the_safety_message_shows_once_for_the_lowest_answer_and_not_otherwise(
    session: AsyncSession,
) -> None:
    m = await member(session)
    calm = await start(session, m, WHO5, "baseline")
    outcome = await ask(session, calm.id, WHO5, {f"who{i}": "1" for i in range(1, 6)})
    assert outcome.status is Status.FINISHED
    assert not outcome.show_safety

    low = await start(session, m, WHO5, "post")
    first = await answer(session, low.id, WHO5, "who1", 0.0)
    assert first.show_safety
    assert first.status is Status.NEXT
    second = await answer(session, low.id, WHO5, "who2", 0.0)
    assert not second.show_safety  # once per response
    async with session.begin():
        row = await load_response(session, low.id)
        assert row is not None
        assert row.safety_shown_at == NOW


async def test_the_checkin_shows_safety_for_the_lowest_coping_answer(
    session: AsyncSession,
) -> None:
    m = await member(session)
    for week, (code, shown) in enumerate([("0", True), ("1", True), ("2", False), ("10", False)]):
        response = await start(session, m, CHECKIN, f"checkin-{week + 1}")
        outcome = await answer(session, response.id, CHECKIN, "coping",
                               engine.parse_answer(CHECKIN.items[0], code))  # fmt: skip
        assert outcome.show_safety is shown, code


async def test_a_stopped_response_resumes_at_the_next_item_after_a_restart(
    engine: AsyncEngine, session: AsyncSession
) -> None:
    m = await member(session)
    response = await start(session, m, CHECKIN, "checkin-1")
    await answer(session, response.id, CHECKIN, "coping", 6.0)
    await answer(session, response.id, CHECKIN, "symptom_burden", 4.0)
    # "Restart": a fresh session, nothing kept in memory.
    async with create_sessionmaker(engine)() as fresh, fresh.begin():
        again = await start_or_resume(fresh, m.id, CHECKIN, "checkin-1", "da", NOW)
        assert again.id == response.id
        outcome = step(CHECKIN, again)
    assert outcome.status is Status.NEXT
    assert outcome.item is not None
    assert outcome.item.key == "activity_rest"
    assert (outcome.position, outcome.total, outcome.can_go_back) == (3, 4, True)


async def test_a_finished_response_refuses_more_answers(session: AsyncSession) -> None:
    m = await member(session)
    response = await start(session, m, CHECKIN, "checkin-1")
    done = await ask(
        session,
        response.id,
        CHECKIN,
        {"coping": "5", "symptom_burden": "5", "activity_rest": "5", "action_plan": "2"},
    )
    assert done.status is Status.FINISHED
    later = NOW + timedelta(hours=1)
    refused = await answer(session, response.id, CHECKIN, "coping", 9.0, at=later)
    assert refused.status is Status.ALREADY_FINISHED
    assert not refused.repeated
    # The last button tapped twice: refused, but recognised as the same tap.
    double = await answer(session, response.id, CHECKIN, "action_plan", 2.0, at=later)
    assert double.status is Status.ALREADY_FINISHED
    assert double.repeated
    rows = await answer_rows(session, response.id)
    assert {a.item_key: a.value_number for a in rows}["coping"] == 5.0
    assert all(a.answered_at == NOW for a in rows)
    # Starting it again gives the finished response back, not a new one.
    again = await start(session, m, CHECKIN, "checkin-1")
    assert again.id == response.id
    assert again.completed_at == NOW
    async with session.begin():
        assert step(CHECKIN, again).status is Status.ALREADY_FINISHED
        back = await go_back(session, response.id, "action_plan", questionnaire=CHECKIN)
        assert back.status is Status.ALREADY_FINISHED


async def test_a_double_tap_keeps_one_answer_and_does_not_move_on_twice(
    session: AsyncSession,
) -> None:
    m = await member(session)
    response = await start(session, m, CHECKIN, "checkin-1")
    first = await answer(session, response.id, CHECKIN, "coping", 6.0)
    again = await answer(session, response.id, CHECKIN, "coping", 6.0)
    assert first.item is not None
    assert first.item.key == "symptom_burden"
    assert again.status is Status.NEXT
    assert again.repeated
    assert again.item is not None
    assert again.item.key == "symptom_burden"
    rows = await answer_rows(session, response.id)
    assert [(a.item_key, a.value_number) for a in rows] == [("coping", 6.0)]


async def test_going_back_shows_the_earlier_answer_and_a_new_one_replaces_it(
    session: AsyncSession,
) -> None:
    m = await member(session)
    response = await start(session, m, CHECKIN, "checkin-1")
    await answer(session, response.id, CHECKIN, "coping", 6.0)
    await answer(session, response.id, CHECKIN, "symptom_burden", 4.0)
    async with session.begin():
        back = await go_back(session, response.id, "activity_rest", questionnaire=CHECKIN)
    assert back.item is not None
    assert back.item.key == "symptom_burden"
    assert back.current == 4.0
    assert not back.repeated
    async with session.begin():  # "back" on the older message of activity_rest: no change
        stale_back = await go_back(session, response.id, "activity_rest", questionnaire=CHECKIN)
        first = await go_back(session, response.id, "coping", questionnaire=CHECKIN)
    assert stale_back.repeated
    assert stale_back.item == back.item
    assert first.repeated
    assert first.item == back.item
    changed = await answer(session, response.id, CHECKIN, "symptom_burden", 8.0)
    assert changed.item is not None
    assert changed.item.key == "activity_rest"
    rows = await answer_rows(session, response.id)
    assert [(a.item_key, a.value_number) for a in rows] == [
        ("coping", 6.0),
        ("symptom_burden", 8.0),
    ]


async def test_skips_and_wrong_values_are_checked(session: AsyncSession) -> None:
    m = await member(session)
    rid = (await start(session, m, CHECKIN, "checkin-1")).id  # a rollback expires the object
    with pytest.raises(InvalidAnswer) as required:
        await answer(session, rid, CHECKIN, "coping", SKIPPED)
    assert required.value.reason == engine.REASON_REQUIRED
    with pytest.raises(InvalidAnswer):
        await answer(session, rid, CHECKIN, "coping", 11.0)
    with pytest.raises(InvalidAnswer):
        await answer(session, rid, CHECKIN, "coping", "six")
    assert await answer_rows(session, rid) == []


async def test_a_text_answer_is_stored_as_text(session: AsyncSession) -> None:
    m = await member(session)
    baseline = SHIPPED["baseline"]
    response = await start(session, m, baseline)
    async with session.begin():
        row = await load_response(session, response.id)
        assert row is not None
        row.current_item = "hopes"  # jump to the last item for this test
    outcome = await answer(session, response.id, baseline, "hopes", "At sove bedre 😴")
    assert outcome.status is Status.NEXT  # earlier items are still open
    assert outcome.item is not None
    assert outcome.item.key == "se_daily"
    rows = await answer_rows(session, response.id)
    assert [(a.value_text, a.value_number) for a in rows] == [("At sove bedre 😴", None)]


async def test_stale_and_foreign_requests_change_nothing(session: AsyncSession) -> None:
    m = await member(session)
    response = await start(session, m, CHECKIN, "checkin-1")
    async with session.begin():
        stranger = await make_person(session)
    assert (await answer(session, 999_999, CHECKIN, "coping", 1.0)).status is Status.STALE
    assert (await answer(session, response.id, WHO5, "who1", 1.0)).status is Status.STALE
    assert (await answer(session, response.id, CHECKIN, "nope", 1.0)).status is Status.STALE
    async with session.begin():
        assert await load_response(session, response.id, person_id=stranger.id) is None
        foreign = await record_answer(
            session, response.id, "coping", 1.0, NOW, questionnaire=CHECKIN, person_id=stranger.id
        )
        assert foreign.status is Status.STALE
        own = await load_response(session, response.id, person_id=m.person_id)
        assert own is not None
    assert await answer_rows(session, response.id) == []


async def test_a_planned_response_is_started_by_the_open_button(session: AsyncSession) -> None:
    m = await member(session)
    async with session.begin():
        planned = QuestionnaireResponse(
            membership_id=m.id, questionnaire_key="checkin", questionnaire_version="0",
            occasion="checkin-2", language="en", scheduled_at=NOW,
        )  # fmt: skip
        session.add(planned)
    async with session.begin():
        outcome = await resume(session, planned.id, NOW, questionnaire=CHECKIN,
                               person_id=m.person_id)  # fmt: skip
    assert outcome.status is Status.NEXT
    assert outcome.item is not None
    assert outcome.item.key == "coping"
    async with session.begin():
        row = await load_response(session, planned.id)
        assert row is not None
        assert (row.started_at, row.questionnaire_version, row.current_item) == (
            NOW,
            CHECKIN.version,
            "coping",
        )
        assert row.language == "da" or row.language == "en"  # the caller's language wins
        count = await session.scalar(select(func.count()).select_from(QuestionnaireResponse))
        assert count == 1


async def test_answer_buttons_lead_to_the_right_answer(session: AsyncSession) -> None:
    """The handler's way: decode the button, find the item by position, parse, record."""
    from locales.i18n import Catalogs

    m = await member(session)
    response = await start(session, m, CHECKIN, "checkin-1")
    tr = Catalogs.load().tr("da")
    outcome = step(CHECKIN, response)
    pressed = []
    while outcome.status is Status.NEXT:
        assert outcome.item is not None
        screen = screens.item_screen(tr, CHECKIN, outcome.item, response_id=response.id,
                                     position=outcome.position, total=outcome.total,
                                     can_go_back=outcome.can_go_back)  # fmt: skip
        button = screen.buttons[0][-1]  # the first row's last answer
        assert button.callback is not None
        tap = screens.parse_tap(decode(button.callback))
        assert tap.item_index is not None
        assert tap.value_code is not None
        item = CHECKIN.item_at(tap.item_index)
        assert item is not None
        pressed.append((item.key, button.label))
        outcome = await answer(session, tap.response_id, CHECKIN, item.key,
                               engine.parse_answer(item, tap.value_code))  # fmt: skip
    assert outcome.status is Status.FINISHED
    assert pressed[0] == ("coping", "5")
    assert pressed[-1] == ("action_plan", tr._("I did all of it"))
