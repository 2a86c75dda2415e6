"""Answering questionnaires (check-in, evaluation) and writing the weekly action plan.

Every tap names a response by id; the service loads it only for the presser's own person, so
a forged id from someone else's questionnaire is simply stale.
"""

from __future__ import annotations

from telegram import Update

from bot import render
from bot.context import Actor, BotContext
from bot.handlers import common
from dialogs import action_plan, course, state
from dialogs.callbacks import CallbackDataError, decode
from dialogs.occasion import CHECKIN, checkin_week
from dialogs.questionnaires import Questionnaire, engine, screens, service
from dialogs.questionnaires.engine import InvalidAnswer
from dialogs.reminders import QUESTIONNAIRE
from dialogs.screen import Screen

STATE = "questionnaire"
PLAN_ITEM = "action_plan"


async def start_from_prompt(update: Update, context: BotContext) -> None:
    """The "Start" button under a check-in or evaluation prompt."""
    query = update.callback_query
    assert query is not None
    actor = context.acting
    services = context.services
    try:
        _start, occasion = QUESTIONNAIRE.parse(query.data)
        q = services.questionnaires.get(occasion.questionnaire_key)
        if q is None or actor.person_id is None:
            raise CallbackDataError("unknown questionnaire")
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    now = services.clock.now()
    async with services.sessions.begin() as session:
        membership = await course.participant_membership(session, actor.person_id)
        if membership is None or not await service.occasion_is_open(
                session, membership, occasion, now):
            outcome = None
        else:
            response = await service.start_or_resume(
                session, membership.id, q, str(occasion), actor.locale, now
            )
            outcome = service.step(q, response)
            if outcome.status is service.Status.NEXT:
                await state.wait_for(session, actor.person_id, STATE, now,
                                     response_id=response.id)
    if outcome is None:
        # An alert: the message the button was on stays as it is.
        await query.answer(screens.not_open_text(actor.tr), show_alert=True)
        return
    await query.answer()
    if outcome.status is service.Status.NEXT:
        resuming = outcome.position > 1
        await render.replace(update, screens.intro_screen(actor.tr, q, resuming=resuming))
    await _show(update, context, actor, q, outcome, occasion=str(occasion))


async def tap(update: Update, context: BotContext) -> None:
    """Answer, skip, back and open buttons on questionnaire items."""
    query = update.callback_query
    assert query is not None
    actor = context.acting
    services = context.services
    try:
        parsed = screens.parse_tap(decode(query.data))
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    if actor.person_id is None:
        await common.stale_button(update, context)
        return
    async with context.reads() as session:
        response = await service.load_response(
            session, parsed.response_id, person_id=actor.person_id
        )
        q = services.questionnaires.get(response.questionnaire_key) if response else None
        occasion = response.occasion if response else ""
    if response is None or q is None:
        await query.answer()
        await render.send(update, screens.stale_screen(actor.tr))
        return
    item = q.item_at(parsed.item_index) if parsed.item_index is not None else None
    now = services.clock.now()
    if parsed.action == screens.ACTION_OPEN:
        async with services.sessions.begin() as session:
            outcome = await service.resume(session, response.id, now, questionnaire=q,
                                           person_id=actor.person_id)
        await query.answer()
        await _show(update, context, actor, q, outcome, occasion=occasion)
        return
    if item is None:
        await query.answer()
        await render.send(update, screens.stale_screen(actor.tr))
        return
    if parsed.action == screens.ACTION_BACK:
        async with services.sessions.begin() as session:
            outcome = await service.go_back(session, response.id, item.key, questionnaire=q,
                                            person_id=actor.person_id)
        await query.answer()
        await _show(update, context, actor, q, outcome, occasion=occasion, replace=True)
        return
    try:
        if parsed.action == screens.ACTION_SKIP:
            if not engine.can_skip(item):
                raise InvalidAnswer(engine.REASON_REQUIRED)
            value: object = service.SKIPPED
        else:
            value = engine.parse_answer(item, parsed.value_code or "")
    except InvalidAnswer as invalid:
        await query.answer()
        await render.send(update, screens.invalid_answer_hint(actor.tr, item, invalid.reason))
        return
    await _record(update, context, actor, q, response.id, item.key, value, occasion)


async def _record(
    update: Update, context: BotContext, actor: Actor, q: Questionnaire, response_id: int,
    item_key: str, value: object, occasion: str,
) -> None:
    assert actor.person_id is not None
    services = context.services
    now = services.clock.now()
    async with services.sessions.begin() as session:
        outcome = await service.record_answer(
            session, response_id, item_key, value, now,  # type: ignore[arg-type]
            questionnaire=q, person_id=actor.person_id,
        )
        week = checkin_week(occasion)
        if q.key == CHECKIN and item_key == PLAN_ITEM and week is not None:
            membership = await course.participant_membership(session, actor.person_id)
            item = q.item(item_key)
            code = _option_code(item, value)
            if membership is not None and code is not None:
                # The check-in after webinar N asks about the plan made after webinar N-1.
                await action_plan.record_outcome(session, membership.id, week - 1, code, now)
        if outcome.status is not service.Status.NEXT:
            await state.stop_waiting(session, actor.person_id)
    query = update.callback_query
    if query is not None:
        await query.answer()
        if outcome.status is not service.Status.STALE:
            await _mark_answered(update, actor, q, item_key, value, outcome)
    await _show(update, context, actor, q, outcome, occasion=occasion)


def _option_code(item: object, value: object) -> str | None:
    for option in getattr(item, "options", ()):
        if float(option.value) == value:
            return str(option.code or option.value)
    return None


async def _mark_answered(
    update: Update, actor: Actor, q: Questionnaire, item_key: str, value: object,
    outcome: service.Outcome,
) -> None:
    """Show the tapped answer ticked on its own message, so the screen tells what was said."""
    item = q.item(item_key)
    if item is None or value is service.SKIPPED:
        return
    index = q.index(item_key)
    screen = screens.item_screen(
        actor.tr, q, item, response_id=outcome.response_id or 0, position=index + 1,
        total=len(q.items), can_go_back=index > 0, current=value,  # type: ignore[arg-type]
    )
    await render.replace(update, screen)


async def _show(
    update: Update, context: BotContext, actor: Actor, q: Questionnaire,
    outcome: service.Outcome, *, occasion: str, replace: bool = False,
) -> None:
    tr = actor.tr
    if outcome.show_safety:
        await render.send(update, screens.safety_screen(tr, await _country(context, actor)))
    show = render.replace if replace else render.send
    match outcome.status:
        case service.Status.NEXT if outcome.repeated:
            return
        case service.Status.NEXT:
            assert outcome.item is not None
            assert outcome.response_id is not None
            await show(update, screens.item_screen(
                tr, q, outcome.item, response_id=outcome.response_id, position=outcome.position,
                total=outcome.total, can_go_back=outcome.can_go_back, current=outcome.current,
            ))
        case service.Status.FINISHED:
            await render.send(update, screens.finished_screen(tr, q))
            week = checkin_week(occasion)
            if q.key == CHECKIN and week is not None:
                await render.send(update, action_plan.offer_screen(tr, week))
        case service.Status.ALREADY_FINISHED if not outcome.repeated:
            await render.send(update, screens.already_finished_screen(tr, q))
        case service.Status.STALE:
            await render.send(update, screens.stale_screen(tr))


async def _country(context: BotContext, actor: Actor) -> str:
    assert actor.person_id is not None
    async with context.reads() as session:
        membership = await course.participant_membership(session, actor.person_id)
        if membership is None:
            return ""
        return await course.participant_country(session, membership)


async def typed_answer(update: Update, context: BotContext, response_id: int) -> None:
    """Text while a questionnaire waits: an answer to a text item, or a kind hint."""
    actor = context.acting
    message = update.effective_message
    assert message is not None
    assert actor.person_id is not None
    async with context.reads() as session:
        response = await service.load_response(session, response_id, person_id=actor.person_id)
        q = context.services.questionnaires.get(response.questionnaire_key) if response else None
        outcome = service.step(q, response) if response and q else None
        occasion = response.occasion if response else ""
    if q is None or outcome is None or outcome.status is not service.Status.NEXT:
        async with context.services.sessions.begin() as session:
            await state.stop_waiting(session, actor.person_id)
        await common.not_understood(update, context)
        return
    assert outcome.item is not None
    try:
        value = engine.parse_answer(outcome.item, message.text or "")
    except InvalidAnswer as invalid:
        await render.send(update, screens.invalid_answer_hint(actor.tr, outcome.item,
                                                              invalid.reason))
        # The question again, so the buttons are right there.
        await _show(update, context, actor, q, outcome, occasion=occasion)
        return
    await _record(update, context, actor, q, response_id, outcome.item.key, value, occasion)


# -- the weekly action plan ------------------------------------------------------------------


async def plan_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if actor.person_id is None:
        await common.not_understood(update, context)
        return
    services = context.services
    now = services.clock.now()
    async with services.sessions.begin() as session:
        membership = await course.participant_membership(session, actor.person_id)
        if membership is not None:
            week = await course.webinars_held(session, membership, now)
            await action_plan.start(session, actor.person_id, week, now)
    if membership is None:
        await render.send(update, Screen.of(actor.tr._(
            "You are not in a team yet. Open the invite link from your municipality to join."
        )))
        return
    await render.send(update, action_plan.step_screen(actor.tr, "what"))


async def plan_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    services = context.services
    now = services.clock.now()
    if actor.person_id is None:
        await common.stale_button(update, context)
        return
    try:
        kind, number = action_plan.ACTION.parse(query.data)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    screen: Screen | None = None
    async with services.sessions.begin() as session:
        membership = await course.participant_membership(session, actor.person_id)
        if membership is None:
            kind = "stale"
        match kind:
            case "new":
                await action_plan.start(session, actor.person_id, number, now)
                screen = action_plan.step_screen(actor.tr, "what")
            case "d":
                draft = await action_plan.answer_days(session, actor.person_id, number, now)
                screen = action_plan.step_screen(actor.tr, draft.step) if draft else None
            case "c":
                assert membership is not None
                plan = await action_plan.answer_confidence(
                    session, actor.person_id, membership.id, number, now
                )
                if plan is not None:
                    screen = (
                        action_plan.plan_done_screen(actor.tr, plan)
                        if plan.confidence >= action_plan.CONFIDENT_ENOUGH
                        else action_plan.low_confidence_screen(actor.tr, plan)
                    )
            case "s":
                assert membership is not None
                plan = await action_plan.make_smaller(
                    session, actor.person_id, membership.id, number, now
                )
                screen = action_plan.step_screen(actor.tr, "how_much") if plan else None
            case "k":
                assert membership is not None
                plan = await action_plan.own_plan(session, membership.id, number)
                screen = action_plan.plan_done_screen(actor.tr, plan) if plan else None
    await query.answer()
    await render.send(update, screen or action_plan.not_planning_screen(actor.tr))


async def typed_plan(update: Update, context: BotContext) -> None:
    actor = context.acting
    message = update.effective_message
    assert message is not None
    assert actor.person_id is not None
    text = action_plan.clean_text(message.text or "")
    if text is None:
        await render.send(update, action_plan.too_long_screen(actor.tr))
        return
    async with context.services.sessions.begin() as session:
        draft = await action_plan.answer_text(
            session, actor.person_id, text, context.services.clock.now()
        )
    if draft is None:
        await common.not_understood(update, context)
        return
    await render.send(update, action_plan.step_screen(actor.tr, draft.step))
