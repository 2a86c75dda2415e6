"""Baseline, a module, the weekly check-in and the action plan, as a participant meets them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.local_api import LocalBotApi, SimMessage
from bot.sandbox import HumanPace, Sandbox, open_sandbox
from storage.clock import FrozenClock
from storage.models import ActionPlan, Answer, QuestionnaireResponse

from .helpers import WORDS, join, make_team

KIM = 9001
# Hold 3's first webinar is Thursday 7 January 2027, 19:00 in Copenhagen (18:00 UTC).
AFTER_WEBINAR_1 = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)
AFTER_WEBINAR_2 = datetime(2027, 1, 15, 10, 0, tzinfo=UTC)


async def time_passes(sandbox: Sandbox, clock: FrozenClock, until: datetime | None = None) -> None:
    """Minutes pass (or until ``until``); the outbox sends what is due by then."""
    clock.set(until or clock.now() + timedelta(minutes=5))
    if sandbox.pace is not None:
        sandbox.pace.pause(300)  # the per-chat flood window has long passed
    assert sandbox.delivery is not None
    await sandbox.delivery.run_once()


def prompt(sandbox: Sandbox, chat_id: int, words: str) -> SimMessage:
    found = [m for m in sandbox.api.messages_to(chat_id) if words in (m.text or "")]
    assert found, f"no message with {words!r}"
    return found[-1]


def current_item(sandbox: Sandbox, chat_id: int) -> SimMessage:
    message = sandbox.api.last_message_to(chat_id)
    assert message is not None
    assert any(b.get("callback_data", "").startswith("v1:qa:") for b in message.buttons()), (
        f"not a question: {message.text!r}"
    )
    return message


async def answer(sandbox: Sandbox, chat_id: int, label: str) -> None:
    await sandbox.press(chat_id, label, message_id=current_item(sandbox, chat_id).message_id)


async def answer_until_done(sandbox: Sandbox, chat_id: int, done_words: str) -> int:
    """Answer every question (a middle button, or typed text) until ``done_words`` appear."""
    taps = 0
    while done_words not in (sandbox.api.last_message_to(chat_id).text or ""):
        last = sandbox.api.last_message_to(chat_id)
        buttons = [b for b in last.buttons() if b.get("callback_data", "").startswith("v1:qa:")]
        if buttons:
            await answer(sandbox, chat_id, buttons[len(buttons) // 2]["text"])
        else:
            await sandbox.send_text(chat_id, "To feel more in control of my days.")
        taps += 1
        assert taps < 40, "the questionnaire does not end"
    return taps


async def test_baseline_module_checkin_smaller_plan_and_how_it_went(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    assert sandbox.delivery is not None
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="en")

    # Baseline on joining.
    await time_passes(sandbox, clock)
    baseline = prompt(sandbox, KIM, "Before the course starts")
    await sandbox.press(KIM, "Start", message_id=baseline.message_id)
    assert await answer_until_done(sandbox, KIM, "Your answers are saved") == 15

    # Module 1.
    await sandbox.press(KIM, WORDS["en"].prepared)

    # After webinar 1: the check-in. Free text at a button question: a hint, then the question.
    await time_passes(sandbox, clock, AFTER_WEBINAR_1)
    checkin = prompt(sandbox, KIM, "How did this week go?")
    await sandbox.press(KIM, "Start", message_id=checkin.message_id)
    question = current_item(sandbox, KIM)
    await sandbox.send_text(KIM, "pretty good I think")
    hint, again = sandbox.api.messages_to(KIM)[-2:]
    assert "button" in hint.text.lower()
    assert again.text == question.text
    assert again.button_texts() == question.button_texts()
    for label in ("6", "5", "5", "I had no plan"):
        await answer(sandbox, KIM, label)
    assert "Your answers are saved" in sandbox.api.messages_to(KIM)[-2].text

    # The weekly plan, confidence 5, made smaller, then confidence 8.
    await sandbox.press(KIM, "Make a plan")
    for text in ("go for a walk", "10 minutes", "after lunch"):
        await sandbox.send_text(KIM, text)
    await sandbox.press(KIM, "5")  # days
    await sandbox.press(KIM, "5")  # confidence
    low = sandbox.api.last_message_to(KIM).text
    assert "go for a walk, 10 minutes, after lunch, on 5 days this week." in low
    assert "smaller or easier" in low
    await sandbox.press(KIM, "Make it smaller")
    for text in ("5 minutes", "after lunch"):
        await sandbox.send_text(KIM, text)
    await sandbox.press(KIM, "3")
    await sandbox.press(KIM, "8")
    done = sandbox.api.last_message_to(KIM).text
    assert "go for a walk, 5 minutes, after lunch, on 3 days this week." in done
    assert "8 out of 10" in done
    async with sandbox.services.sessions() as session:
        plans = list(await session.scalars(select(ActionPlan)))
    assert [(p.week, p.how_much, p.days_per_week, p.confidence) for p in plans] == [
        (1, "5 minutes", 3, 8)
    ]

    # After webinar 2 the check-in asks how the plan went.
    await time_passes(sandbox, clock, AFTER_WEBINAR_2)
    second = prompt(sandbox, KIM, "check-in for module 2")
    await sandbox.press(KIM, "Start", message_id=second.message_id)
    for label in ("7", "4", "6"):
        await answer(sandbox, KIM, label)
    assert current_item(sandbox, KIM).text.endswith("How did your action plan go?")
    await answer(sandbox, KIM, "I did some of it")
    async with sandbox.services.sessions() as session:
        plan = await session.scalar(select(ActionPlan))
    assert plan is not None
    assert plan.outcome == "partly"


async def test_a_check_in_resumes_at_the_next_item_after_a_restart(
    settings, clock: FrozenClock, tmp_path
) -> None:
    database = f"sqlite:///{tmp_path / 'resume.sqlite3'}"
    pace = HumanPace()
    async with LocalBotApi(clock=pace) as api:
        async with open_sandbox(settings=settings, database_url=database, clock=clock, api=api,
                                pace=pace) as before:
            created = await make_team(before)
            await join(before, KIM, created.participant_invite.code, language="da")
            await time_passes(before, clock, AFTER_WEBINAR_1)
            checkin = prompt(before, KIM, "Hvordan gik ugen")
            await before.press(KIM, "Start", message_id=checkin.message_id)
            await answer(before, KIM, "3")
            await answer(before, KIM, "7")
            third = current_item(before, KIM)
        # A new process: the question on screen still works and the answers are kept.
        async with open_sandbox(settings=settings, database_url=database, clock=clock, api=api,
                                pace=pace) as after:
            await after.press(KIM, "4", message_id=third.message_id)
            assert "Spørgsmål 4 af 4" in current_item(after, KIM).text
            # Two days later the reminder's Start resumes at that question, not at the start.
            await time_passes(after, clock, AFTER_WEBINAR_1 + timedelta(days=2, hours=1))
            reminder = prompt(after, KIM, "stadig åben")
            await after.press(KIM, "Start", message_id=reminder.message_id)
            assert "Spørgsmål 4 af 4" in current_item(after, KIM).text
            async with after.services.sessions() as session:
                answers = dict((await session.execute(
                    select(Answer.item_key, Answer.value_number)
                )).all())
    assert answers == {"coping": 3, "symptom_burden": 7, "activity_rest": 4}


async def test_the_safety_message_shows_once_for_the_lowest_answer_only(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    assert sandbox.delivery is not None
    created = await make_team(sandbox)
    other = KIM + 1
    await join(sandbox, KIM, created.participant_invite.code, language="da")
    await join(sandbox, other, created.participant_invite.code, language="da", first_name="Bo")
    await time_passes(sandbox, clock, AFTER_WEBINAR_1)

    for person, coping in ((KIM, "0"), (other, "5")):
        checkin = prompt(sandbox, person, "Hvordan gik ugen")
        await sandbox.press(person, "Start", message_id=checkin.message_id)
        await answer(sandbox, person, coping)
    safety = [m.text for m in sandbox.api.messages_to(KIM) if "70 201 201" in (m.text or "")]
    assert len(safety) == 1
    assert "112" in safety[0]
    assert "læge" in safety[0]
    assert not [m for m in sandbox.api.messages_to(other) if "70 201 201" in (m.text or "")]

    # Going back and answering the lowest again does not repeat it.
    await sandbox.press(KIM, "← Tilbage")
    await answer(sandbox, KIM, "1")
    again = [m for m in sandbox.api.messages_to(KIM) if "70 201 201" in (m.text or "")]
    assert len(again) == 1
    async with sandbox.services.sessions() as session:
        shown = list(await session.scalars(select(QuestionnaireResponse.safety_shown_at)))
    assert sum(1 for s in shown if s is not None) == 1


async def test_a_plan_made_before_the_first_webinar_counts_for_the_first_week(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    clock.set(datetime(2027, 1, 4, 9, 0, tzinfo=UTC))  # three days before webinar 1
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="en")
    await sandbox.send_text(KIM, "/plan")
    for text in ("stretch", "5 minutes", "in the morning"):
        await sandbox.send_text(KIM, text)
    await sandbox.press(KIM, "4")  # days
    await sandbox.press(KIM, "9")  # confidence
    done = sandbox.api.last_message_to(KIM).text or ""
    assert "stretch, 5 minutes, in the morning, on 4 days this week." in done
    assert not any("went wrong" in (m.text or "") for m in sandbox.api.messages_to(KIM))
    async with sandbox.services.sessions() as session:
        plans = list(await session.scalars(select(ActionPlan)))
    assert [(p.week, p.what, p.confidence) for p in plans] == [(1, "stretch", 9)]


async def test_a_forged_start_button_opens_no_questionnaire_that_is_not_open(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="en")
    await time_passes(sandbox, clock)  # the baseline prompt goes out on joining
    baseline = prompt(sandbox, KIM, "Before the course starts")
    # Occasions nobody opened for Kim: later, made up, or before their webinar.
    for occasion, refusal in (("followup", "not open for you"), ("post", "not open for you"),
                              ("checkin-1", "not open for you"),
                              ("checkin-999", "no longer in use")):  # no such week at all
        await sandbox.handled(sandbox.api.press_forged(
            KIM, baseline.message_id, f"v1:q:start:{occasion}"))
        answer = sandbox.api.callback_answers[-1].answer or {}
        assert refusal in (answer.get("text") or "")
    async with sandbox.services.sessions() as session:
        assert list(await session.scalars(select(QuestionnaireResponse.occasion))) == []

    # The prompt that was sent opens its questionnaire.
    await sandbox.press(KIM, "Start", message_id=baseline.message_id)
    current_item(sandbox, KIM)
    # After webinar 1 the check-in is due: its Start opens it even before the prompt is out
    # (it may be waiting for quiet hours to end).
    clock.set(AFTER_WEBINAR_1)
    await sandbox.handled(sandbox.api.press_forged(
        KIM, baseline.message_id, "v1:q:start:checkin-1"))
    current_item(sandbox, KIM)
    async with sandbox.services.sessions() as session:
        assert sorted(await session.scalars(select(QuestionnaireResponse.occasion))) == [
            "baseline", "checkin-1"]
