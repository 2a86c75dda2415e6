"""/summary end to end: marking a tool as helpful, and the one-page PDF for the GP, parsed back
with pypdf in da, nb and en — only the person's own things, their scores only when ticked."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from bot.local_api import SimMessage
from bot.sandbox import Sandbox
from dialogs import action_plan, course, gp_summary
from dialogs.callbacks import callback
from storage.clock import FrozenClock
from storage.models import Answer, Membership, Person, QuestionnaireResponse

from .helpers import join, make_team, press_data

SIGNE, BO = 8701, 8702
NAME = "Søren Ærø-Åsli"  # æ ø å, upper and lower case, must come out as written
OTHER_NAME = "Bodil Kragh"
PLAN = ("gå en tur ved søen", "20 minutter", "efter frokost")
AFTER_WEBINAR_1 = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)

WORDS = {
    "da": {"title": "Mit mestringskursus – et overblik", "tools": "Værktøjer, der hjælper mig",
           "tool": "En lille ugeplan", "topic": "Kroppens alarmsystem",
           "plan": "Uge 1 gå en tur ved søen, 20 minutter, efter frokost, på 5 dage. "
                   "Sådan gik det: Jeg gjorde noget af det",
           "scores": "Mine egne svar", "week": "Uge 1 7 af 10",
           "marked": "Godt at vide!", "helps": "Det her værktøj hjælper mig"},
    "nb": {"title": "Mitt mestringskurs – en oversikt", "tools": "Verktøy som hjelper meg",
           "tool": "En liten ukeplan", "topic": "Kroppens alarmsystem",
           "plan": "Uke 1 gå en tur ved søen, 20 minutter, efter frokost, på 5 dager. "
                   "Slik gikk det: Jeg gjorde noe av det",
           "scores": "Mine egne svar", "week": "Uke 1 7 av 10",
           "marked": "Godt å vite!", "helps": "Dette verktøyet hjelper meg"},
    "en": {"title": "My coping course – a summary", "tools": "Tools that help me",
           "tool": "A small weekly plan", "topic": "Your body's alarm system",
           "plan": "Week 1 gå en tur ved søen, 20 minutter, efter frokost, on 5 days. "
                   "How it went: I did some of it",
           "scores": "My own answers", "week": "Week 1 7 of 10",
           "marked": "Good to know!", "helps": "This tool helps me"},
}


def pdf_text(message: SimMessage) -> tuple[int, str]:
    assert message.file is not None
    assert message.file.file_name == "summary.pdf"
    assert message.document_bytes is not None
    reader = PdfReader(io.BytesIO(message.document_bytes))
    text = " ".join(page.extract_text() for page in reader.pages)
    return len(reader.pages), re.sub(r"\s+", " ", text)


def tool_button(message: SimMessage) -> str:
    data = callback(course.HELPFUL, 1)
    return next(b["text"] for b in message.buttons() if b.get("callback_data") == data)


async def make_plan(sandbox: Sandbox, user_id: int) -> None:
    await sandbox.send_text(user_id, "/plan")
    for answer in PLAN:
        await sandbox.send_text(user_id, answer)
    await sandbox.press(user_id, "5")  # days
    await sandbox.press(user_id, "8")  # confidence


async def own_membership(sandbox: Sandbox, user_id: int) -> int:
    async with sandbox.services.sessions() as session:
        found = await session.scalar(
            select(Membership.id).join(Person).where(Person.telegram_user_id == user_id))
    assert found is not None
    return found


async def coped(sandbox: Sandbox, user_id: int, week: int, value: int) -> None:
    """A finished check-in (the questionnaire flow itself is tested elsewhere)."""
    membership_id = await own_membership(sandbox, user_id)
    now = sandbox.services.clock.now()
    async with sandbox.services.sessions.begin() as session:
        response = QuestionnaireResponse(
            membership_id=membership_id, questionnaire_key="checkin", questionnaire_version="1",
            occasion=f"checkin-{week}", language="da", completed_at=now)
        session.add(response)
        await session.flush()
        session.add(Answer(response_id=response.id, item_key="coping", value_number=value,
                           answered_at=now))


@pytest.mark.parametrize("language", ["da", "nb", "en"])
async def test_a_helpful_tool_and_a_plan_make_a_one_page_summary(
    sandbox: Sandbox, clock: FrozenClock, language: str
) -> None:
    words = WORDS[language]
    created = await make_team(sandbox, language=language)
    await join(sandbox, SIGNE, created.participant_invite.code, language=language,
               first_name=NAME)
    await join(sandbox, BO, created.participant_invite.code, language=language,
               first_name=OTHER_NAME)
    clock.set(AFTER_WEBINAR_1)

    # The tool is the module's last step; one tap marks it, a second takes it away.
    last = len(course.default_course().module(1).steps) + 1
    for step in range(1, last + 1):  # "Next ›" through the module's message
        await press_data(sandbox, SIGNE, callback(course.STEP, 1, step))
    tool_step = sandbox.api.last_message_to(SIGNE)
    assert tool_button(tool_step) == "♡ " + words["helps"]
    await press_data(sandbox, SIGNE, callback(course.HELPFUL, 1))
    assert words["marked"] in (sandbox.api.callback_answers[-1].answer or {}).get("text", "")
    assert tool_button(sandbox.api.last_message_to(SIGNE)) == "♥ " + words["helps"]
    await press_data(sandbox, SIGNE, callback(course.HELPFUL, 1))
    assert tool_button(sandbox.api.last_message_to(SIGNE)) == "♡ " + words["helps"]
    await press_data(sandbox, SIGNE, callback(course.HELPFUL, 1))

    await make_plan(sandbox, SIGNE)
    async with sandbox.services.sessions.begin() as session:
        assert await action_plan.record_outcome(
            session, await own_membership(sandbox, SIGNE), 1, "partly", clock.now())
    await coped(sandbox, SIGNE, 1, 7)
    await make_plan(sandbox, BO)  # Bo's plan must not show in Signe's summary

    # Without the tick: no scores.
    await sandbox.send_text(SIGNE, "/summary")
    await press_data(sandbox, SIGNE, callback(gp_summary.ACTION, "make", 0))
    pages, text = pdf_text(sandbox.api.last_message_to(SIGNE))
    assert pages == 1
    assert words["title"] in text
    assert NAME in text
    assert words["topic"] in text
    assert words["tools"] in text
    assert words["tool"] in text
    assert words["plan"] in text
    assert words["scores"] not in text
    for stranger in (OTHER_NAME, created.team.name, "Køge"):
        assert stranger not in text

    # Ticked: their own weekly coping joins.
    await sandbox.send_text(SIGNE, "/summary")
    await press_data(sandbox, SIGNE, callback(gp_summary.ACTION, "tick", 1))
    assert "☑" in str(sandbox.api.last_message_to(SIGNE).buttons())
    await press_data(sandbox, SIGNE, callback(gp_summary.ACTION, "make", 1))
    pages, text = pdf_text(sandbox.api.last_message_to(SIGNE))
    assert pages == 1
    assert words["scores"] in text
    assert words["week"] in text


async def test_summary_needs_a_team_and_an_unmarked_tool_is_not_listed(
    sandbox: Sandbox, clock: FrozenClock
) -> None:
    sandbox.api.add_user(SIGNE, NAME, language_code="en")
    await sandbox.send_text(SIGNE, "/summary")
    assert "not in a team yet" in sandbox.api.last_message_to(SIGNE).text
    created = await make_team(sandbox, language="en")
    await join(sandbox, SIGNE, created.participant_invite.code, language="en", first_name=NAME)
    await sandbox.send_text(SIGNE, "/summary")
    await press_data(sandbox, SIGNE, callback(gp_summary.ACTION, "make", 0))
    pages, text = pdf_text(sandbox.api.last_message_to(SIGNE))
    assert pages == 1
    assert "I have not marked any tools yet." in text
    assert "I have not made any plans yet." in text
    # A locked module's tool cannot be marked.
    await sandbox.handled(sandbox.api.press_forged(
        SIGNE, sandbox.api.last_message_to(SIGNE).message_id, callback(course.HELPFUL, 4)))
    assert "has not opened yet" in (sandbox.api.callback_answers[-1].answer or {}).get("text", "")
