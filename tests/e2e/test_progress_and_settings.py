"""/progress and /settings as a participant uses them."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import select

from bot.drawing import Drawing
from bot.errors import apology_screen
from bot.sandbox import Sandbox
from storage.models import Answer, Membership, Person, QuestionnaireResponse

from .helpers import WORDS, join, make_team

KIM = 8001


async def test_progress_is_a_picture_with_a_short_text(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="da")
    await sandbox.send_text(KIM, "/progress")
    assert sandbox.api.last_message_to(KIM).text.startswith("Der er ikke noget at vise endnu")

    await sandbox.press(KIM, WORDS["da"].prepared)
    async with sandbox.services.sessions.begin() as session:
        membership = await session.scalar(
            select(Membership).join(Person).where(Person.telegram_user_id == KIM)
        )
        response = QuestionnaireResponse(
            membership_id=membership.id, questionnaire_key="checkin", questionnaire_version="1",
            occasion="checkin-1", language="da", completed_at=sandbox.services.clock.now(),
        )
        session.add(response)
        await session.flush()
        session.add(Answer(response_id=response.id, item_key="coping", value_number=6,
                           answered_at=sandbox.services.clock.now()))
    await sandbox.send_text(KIM, "/progress")
    photo = sandbox.api.last_message_to(KIM)
    assert photo.media_kind == "photo"
    assert photo.photo_bytes.startswith(b"\x89PNG")
    assert len(photo.photo_bytes) > 10_000
    assert photo.caption == (
        "Du har forberedt 1 af 6 moduler.\nI uge 1 gav du dig selv 6 ud af 10 for at klare dig."
    )
    assert any(c.method == "sendChatAction" for c in sandbox.api.calls)


async def test_settings_pause_quiet_hours_and_name(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="nb")
    await sandbox.send_text(KIM, "/settings")
    screen = sandbox.api.last_message_to(KIM).text
    assert "Påminnelser: på" in screen
    assert "Stille timer: 21:00 til 08:00" in screen

    await sandbox.press(KIM, "Sett påminnelser på pause i en uke")
    assert "på pause til" in sandbox.api.last_message_to(KIM).text
    async with sandbox.services.sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == KIM))
    assert person.paused_until == sandbox.services.clock.now() + timedelta(days=7)
    await sandbox.press(KIM, "Start påminnelser igjen")
    assert "Påminnelser: på" in sandbox.api.last_message_to(KIM).text

    await sandbox.press(KIM, "Stille timer")
    await sandbox.press(KIM, "22:00 til 07:00")
    assert "Stille timer: 22:00 til 07:00" in sandbox.api.last_message_to(KIM).text
    async with sandbox.services.sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == KIM))
    assert (person.quiet_start, person.quiet_end) == (time(22, 0), time(7, 0))

    await sandbox.press(KIM, "Bytt navn")
    await sandbox.send_text(KIM, "Kim A.")
    assert sandbox.api.last_message_to(KIM).text == "Navnet ditt er nå Kim A.."


async def test_a_forged_settings_button_is_refused_kindly(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="en")
    await sandbox.send_text(KIM, "/settings")
    await sandbox.press(KIM, "Quiet hours")
    message = sandbox.api.last_message_to(KIM)
    # A modified client asks for quiet hours we never offer.
    update_id = sandbox.api.press_forged(KIM, message.message_id, "v1:st:q:0000:2359")
    await sandbox.handled(update_id)
    answer = sandbox.api.callback_answers[-1]
    assert "no longer in use" in (answer.answer or {}).get("text", "")
    async with sandbox.services.sessions() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == KIM))
    assert person.quiet_start is None


async def test_progress_shows_own_scores_before_and_after_the_course(sandbox: Sandbox) -> None:
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="en")
    answers = {
        "baseline": {"se_daily": 4, "se_plan": 5, "se_calm": 4, "se_help": 5},
        "post": {"se_daily": 7, "se_plan": 7, "se_calm": 8, "se_help": 8,
                 "wb_mood": 3, "wb_energy": 3},
    }
    async with sandbox.services.sessions.begin() as session:
        membership = await session.scalar(
            select(Membership).join(Person).where(Person.telegram_user_id == KIM)
        )
        for occasion, items in answers.items():
            response = QuestionnaireResponse(
                membership_id=membership.id, questionnaire_key=occasion,
                questionnaire_version="1", occasion=occasion, language="en",
                completed_at=sandbox.services.clock.now(),
            )
            session.add(response)
            await session.flush()
            for key, value in items.items():
                session.add(Answer(response_id=response.id, item_key=key, value_number=value,
                                   answered_at=sandbox.services.clock.now()))
    await sandbox.send_text(KIM, "/progress")
    caption = sandbox.api.last_message_to(KIM).caption
    assert "Your questionnaires" in caption
    assert "Confidence in coping (1–10): before 4.5 · after 7.5" in caption
    # Two of three wellbeing items answered after: (3 + 3) / 2 × 20; none before.
    assert "Wellbeing (0–100): after 60" in caption
    assert "Understanding" not in caption  # never answered, so no score to show


async def test_progress_says_sorry_when_the_picture_cannot_be_drawn(sandbox: Sandbox) -> None:
    """The drawing process does not answer in time (bot/drawing.py): Kim hears so in Danish,
    and the next /progress is drawn."""
    created = await make_team(sandbox)
    await join(sandbox, KIM, created.participant_invite.code, language="da")
    await sandbox.press(KIM, WORDS["da"].prepared)
    drawing = sandbox.application.bot_data.drawing
    sandbox.application.bot_data.drawing = Drawing(timeout_seconds=0.001)
    try:
        await sandbox.send_text(KIM, "/progress")
    finally:
        await sandbox.application.bot_data.drawing.close()
        sandbox.application.bot_data.drawing = drawing
    sorry = sandbox.api.last_message_to(KIM)
    assert sorry.media_kind is None
    assert sorry.text == apology_screen(sandbox.services.catalogs.tr("da")).text
    await sandbox.send_text(KIM, "/progress")
    assert sandbox.api.last_message_to(KIM).media_kind == "photo"
