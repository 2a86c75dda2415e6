"""Participant handlers: joining by invite link, the course, module steps, typed answers.

Thin by design: parse, check who presses (from the database, never from the button alone),
call a dialog use-case in one transaction, then render — after the transaction, so no
database lock is held while Telegram answers.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode

from bot import render
from bot.context import Actor, BotContext
from bot.handlers import common, coordinator, instructor, questionnaire
from dialogs import (
    action_plan,
    coordinator_team,
    course,
    gp_summary,
    helpful_tools,
    invites,
    language,
    onboarding,
    progress,
    settings,
    state,
    webinar_calendar,
)
from dialogs.callbacks import CallbackDataError, callback, decode
from dialogs.delivery import events
from dialogs.screen import Screen
from locales.i18n import SUPPORTED_LOCALES, Tr
from storage.models import InviteRole

# -- /start with an invite code ----------------------------------------------------------------


async def start(update: Update, context: BotContext) -> None:
    payload = context.args[0] if context.args else ""
    if not payload:
        await common.start(update, context)
        return
    actor = context.acting
    services = context.services
    async with services.sessions.begin() as session:
        # The throttle comes first, for staff codes as for participants' (see Guesser).
        check = await invites.check_invite(session, payload, services.clock.now(),
                                           guesser=_guesser(context, actor))
    if not check.ok:
        # Counted once against the throttle already: a second look-up would count it twice.
        await render.send(update, onboarding.invite_problem_screen(actor.tr, check.status))
        return
    if check.ok and check.invite is not None and check.invite.role == InviteRole.COORDINATOR:
        await coordinator.coordinator_invite(update, context, payload)
        return
    if check.ok and check.invite is not None and check.invite.role == InviteRole.INSTRUCTOR:
        await instructor.instructor_invite(update, context, payload)
        return
    screen = await _invitation_screen(context, actor, payload, actor.tr)
    await render.send(update, screen)


async def _invitation_screen(
    context: BotContext, actor: Actor, code: str, tr: Tr, *, show: str = "language"
) -> Screen:
    """Look the code up again (throttled) and show the onboarding screen named by ``show``."""
    services = context.services
    now = services.clock.now()
    async with services.sessions.begin() as session:
        invitation = await onboarding.look_up_invitation(
            session, code, _guesser(context, actor), now
        )
    if not invitation.check.ok or invitation.team is None:
        return onboarding.invite_problem_screen(tr, invitation.check.status)
    assert invitation.check.invite is not None
    if invitation.check.invite.role != "participant":
        return onboarding.staff_invite_screen(tr)
    if invitation.existing is onboarding.JoinStatus.ALREADY_MEMBER:
        return onboarding.already_member_screen(tr, invitation.team)
    if invitation.existing is onboarding.JoinStatus.OTHER_TEAM:
        return onboarding.other_team_screen(tr)
    match show:
        case "about":
            return onboarding.about_screen(tr, code)
        case "privacy":
            return onboarding.privacy_screen(tr, invitation.team, code, _prove(
                context, actor, onboarding.CONSENT_YES, code, tr))
        case "adult":
            return onboarding.adult_screen(tr, code, _prove(
                context, actor, onboarding.ADULT_YES, code, tr))
        case _:
            return onboarding.choose_language_screen(tr, invitation.team, code)


# -- onboarding buttons ------------------------------------------------------------------------


def _guesser(context: BotContext, actor: Actor) -> invites.Guesser:
    return invites.Guesser(actor.telegram_user_id, context.services.throttle_secret)


def _prove(context: BotContext, actor: Actor, step: str, code: str, tr: Tr) -> onboarding.Proof:
    services = context.services
    return onboarding.prove(services.throttle_secret, step, actor.telegram_user_id, code,
                            tr.locale, services.clock.now())


def _proven(context: BotContext, actor: Actor, step: str, code: str, tr: Tr,
            proof: tuple[str, ...]) -> bool:
    services = context.services
    return onboarding.proven(services.throttle_secret, step, actor.telegram_user_id, code,
                             tr.locale, proof, services.clock.now())


def _lang(value: str) -> str:
    if value not in SUPPORTED_LOCALES:
        raise CallbackDataError("unknown language")
    return value


async def onboarding_step(update: Update, context: BotContext) -> None:
    """Every onboarding button before consent: nothing stored, everything in the button, and
    the consent and age steps signed by the screen that showed them (``onboarding.proven``)."""
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        data = decode(query.data)
        tr = context.services.catalogs.tr(_lang(data.args[0]))
        match data.action, data.args[1:]:
            case onboarding.LANGUAGE, (code,):
                screen = await _invitation_screen(context, actor, code, tr, show="about")
            case onboarding.ABOUT, (code,):
                screen = await _invitation_screen(context, actor, code, tr, show="privacy")
            case onboarding.CONSENT_YES, (code, *proof) if _proven(
                    context, actor, onboarding.CONSENT_YES, code, tr, tuple(proof)):
                screen = await _invitation_screen(context, actor, code, tr, show="adult")
            case onboarding.CONSENT_NO, ():
                screen = onboarding.refused_screen(tr)
            case onboarding.ADULT_NO, ():
                screen = onboarding.under_age_screen(tr)
            case onboarding.ADULT_YES, (code, *proof) if _proven(
                    context, actor, onboarding.ADULT_YES, code, tr, tuple(proof)):
                await query.answer()
                await _join(update, context, actor, tr, code)
                return
            case onboarding.CONSENT_YES | onboarding.ADULT_YES, _:
                # Forged, from someone else's invite, or a day old: start again from the link.
                screen = onboarding.step_expired_screen(tr)
            case _:
                raise CallbackDataError("unknown onboarding step")
    except (CallbackDataError, IndexError):
        await common.stale_button(update, context)
        return
    await query.answer()
    await render.replace(update, screen)


async def _join(update: Update, context: BotContext, actor: Actor, tr: Tr, code: str) -> None:
    services = context.services
    user = update.effective_user
    assert user is not None
    now = services.clock.now()
    async with services.sessions.begin() as session:
        result = await onboarding.join_team(
            session,
            code=code,
            telegram_user_id=actor.telegram_user_id,
            chat_id=actor.chat_id,
            locale=tr.locale,
            telegram_language_code=user.language_code,
            now=now,
            throttle_secret=services.throttle_secret,
        )
        if result.membership_id is not None:
            # Plan the newcomer's messages now (baseline, modules, reminders), not at the
            # next periodic replan.
            await events.membership_changed(session, result.membership_id, now,
                                            services.delivery)
    match result.status:
        case onboarding.JoinStatus.JOINED:
            screen = onboarding.name_question_screen(tr, user.first_name)
        case onboarding.JoinStatus.ALREADY_MEMBER:
            assert result.team is not None
            screen = onboarding.already_member_screen(tr, result.team)
        case onboarding.JoinStatus.OTHER_TEAM:
            screen = onboarding.other_team_screen(tr)
        case onboarding.JoinStatus.STAFF_INVITE:
            screen = onboarding.staff_invite_screen(tr)
        case _:
            screen = onboarding.invite_problem_screen(tr, result.invite_status)
    await render.replace(update, screen)


async def name_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    if actor.person_id is None:
        await common.stale_button(update, context)
        return
    await query.answer()
    if query.data == callback(onboarding.NAME_WRITE):
        async with context.services.sessions.begin() as session:
            await state.wait_for(session, actor.person_id, state.AWAITING_NAME,
                                 context.services.clock.now())
        await render.replace(update, onboarding.write_name_screen(actor.tr))
        return
    user = update.effective_user
    name = onboarding.clean_name(user.first_name if user else "")
    if name is None:
        await render.replace(update, onboarding.write_name_screen(actor.tr))
        return
    await _name_chosen(update, context, actor, name)


async def _name_chosen(update: Update, context: BotContext, actor: Actor, name: str) -> None:
    assert actor.person_id is not None
    services = context.services
    now = services.clock.now()
    async with services.sessions.begin() as session:
        first_time = actor.display_name is None
        await onboarding.set_display_name(session, actor.person_id, name)
        await state.stop_waiting(session, actor.person_id)
        membership = await course.participant_membership(session, actor.person_id)
        view = await course.course_view(session, membership, now) if membership else None
    if not first_time or view is None:
        await render.send(update, onboarding.name_changed_screen(actor.tr, name))
        return
    tr = actor.tr
    async with context.reads() as session:
        ics = await webinar_calendar.participant_calendar(session, actor.person_id, tr)
    await render.send(update, onboarding.welcome_in_team_screen(tr, name, view.team_name))
    await render.send(update, course.plan_screen(tr, view))
    if ics is not None:
        await render.send(update, webinar_calendar.calendar_screen(tr, ics))
    await render.send(update, course.module_opened_screen(tr, 1))


# -- typed text ----------------------------------------------------------------------------


async def text_message(update: Update, context: BotContext) -> None:
    """Free text: an answer the bot waits for, or a kind hint."""
    actor = context.acting
    message = update.effective_message
    if actor.person_id is not None and message is not None and message.text is not None:
        async with context.reads() as session:
            waiting = await state.waiting_for(session, actor.person_id)
        if waiting is not None and waiting.state == questionnaire.STATE:
            await questionnaire.typed_answer(update, context, int(waiting.data["response_id"]))
            return
        if waiting is not None and waiting.state == coordinator_team.STATE:
            await coordinator.typed_new_team(update, context)
            return
        if waiting is not None and waiting.state == action_plan.STATE:
            await questionnaire.typed_plan(update, context)
            return
        if waiting is not None and waiting.state == state.AWAITING_NAME:
            name = onboarding.clean_name(message.text)
            if name is None:
                await render.send(update, onboarding.bad_name_screen(actor.tr))
                return
            await _name_chosen(update, context, actor, name)
            return
    await common.not_understood(update, context)


# -- the course ------------------------------------------------------------------------------


async def course_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    view = await _course_view(context, actor)
    if view is None:
        await render.send(update, not_in_team_screen(actor.tr))
        return
    await render.send(update, course.course_screen(actor.tr, view))


async def _course_view(context: BotContext, actor: Actor) -> course.CourseView | None:
    if actor.participation is None:
        return None
    async with context.reads() as session:
        return await course.participation_view(session, actor.participation,
                                               context.services.clock.now())


async def calendar_command(update: Update, context: BotContext) -> None:
    """The team's webinars as a file for the phone's calendar."""
    actor = context.acting
    ics = None
    if actor.person_id is not None:
        async with context.reads() as session:
            ics = await webinar_calendar.participant_calendar(session, actor.person_id, actor.tr)
    if ics is None:
        await render.send(update, webinar_calendar.no_calendar_screen(actor.tr))
        return
    await render.send(update, webinar_calendar.calendar_screen(actor.tr, ics))


def not_in_team_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "You are not in a team yet. Open the invite link from your municipality to join."
    ))


async def module_step(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        module_no, step = course.STEP.parse(query.data)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    view = await _course_view(context, actor)
    row = next((r for r in view.rows if r.module.number == module_no), None) if view else None
    if row is None:
        await query.answer(actor.tr._("This button belongs to a course you are not in."),
                           show_alert=True)
        return
    if row.status is course.ModuleStatus.LOCKED:
        await query.answer(actor.tr._("Module {number} has not opened yet.", number=module_no),
                           show_alert=True)
        return
    await query.answer()
    helpful = False
    if step > len(row.module.steps) and actor.person_id is not None:  # the tool's step
        async with context.reads() as session:
            helpful = await helpful_tools.is_helpful(session, actor.person_id, module_no)
    await render.replace(update, course.module_step_screen(
        actor.tr, module_no, step, elearning_url=None, helpful=helpful
    ))


async def tool_helpful(update: Update, context: BotContext) -> None:
    """"This tool helps me": a mark for their own /summary; a second tap takes it away."""
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        (module_no,) = course.HELPFUL.parse(query.data)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    if actor.person_id is None:
        result = helpful_tools.ToolMark.NOT_A_PARTICIPANT
    else:
        async with context.services.sessions.begin() as session:
            result = await helpful_tools.toggle_helpful(
                session, actor.person_id, module_no, context.services.clock.now()
            )
    marked = result is helpful_tools.ToolMark.MARKED
    await query.answer(helpful_tools.toggled_text(actor.tr, result, module_no),
                       show_alert=result in (helpful_tools.ToolMark.LOCKED,
                                                   helpful_tools.ToolMark.NOT_A_PARTICIPANT))
    if marked or result is helpful_tools.ToolMark.UNMARKED:
        module = course.default_course().module(module_no)
        await render.replace(update, course.module_step_screen(
            actor.tr, module_no, len(module.steps) + 1, elearning_url=None, helpful=marked
        ))


async def module_done(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        (module_no,) = course.DONE.parse(query.data)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    if actor.person_id is None:
        result = course.PrepResult.NOT_A_PARTICIPANT
    else:
        async with context.services.sessions.begin() as session:
            result = await course.mark_prepared(
                session, actor.person_id, module_no, context.services.clock.now()
            )
    await query.answer(course.prepared_screen(actor.tr, result, module_no),
                       show_alert=result is not course.PrepResult.MARKED)
    if result is course.PrepResult.MARKED and query.message is not None:
        await _tick_done_button(query.message, actor.tr, module_no)


async def _tick_done_button(message: object, tr: Tr, module_no: int) -> None:
    """Show on the message itself that it is done, so the person sees it tomorrow too."""
    markup = getattr(message, "reply_markup", None)
    if not isinstance(markup, InlineKeyboardMarkup):
        return
    done = callback(course.DONE, module_no)
    rows = [
        [
            InlineKeyboardButton("✓ " + tr._("Prepared"), callback_data=done)
            if button.callback_data == done
            else button
            for button in row
        ]
        for row in markup.inline_keyboard
    ]
    await render.edited(message.edit_reply_markup(  # type: ignore[attr-defined]
        InlineKeyboardMarkup(rows)))


# -- /progress -------------------------------------------------------------------------------


async def progress_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if actor.person_id is None:
        await render.send(update, not_in_team_screen(actor.tr))
        return
    async with context.reads() as session:
        membership = await course.participant_membership(session, actor.person_id)
        data = (
            await progress.load_progress(session, membership, context.services.questionnaires)
            if membership else None
        )
    if data is None:
        await render.send(update, not_in_team_screen(actor.tr))
        return
    if data.is_empty:
        await render.send(update, progress.no_progress_yet_screen(actor.tr))
        return
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_PHOTO)
    # In the drawing process: matplotlib's memory and GIL stay out of the worker.
    png = await context.bot_data.drawing.run(progress.render_png, data,
                                             progress.chart_words(actor.tr))
    caption = progress.progress_caption(actor.tr, data)
    await chat.send_photo(png, caption=caption.text, parse_mode=ParseMode.HTML)


# -- /summary --------------------------------------------------------------------------------


async def summary_command(update: Update, context: BotContext) -> None:
    """Offer the one-page summary; their own scores go in only if they tick them."""
    actor = context.acting
    if actor.person_id is None:
        await render.send(update, not_in_team_screen(actor.tr))
        return
    async with context.reads() as session:
        membership = await course.participant_membership(session, actor.person_id)
    if membership is None:
        await render.send(update, not_in_team_screen(actor.tr))
        return
    await render.send(update, gp_summary.offer_screen(actor.tr, scores=False))


async def summary_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        form, scores = gp_summary.ACTION.parse(query.data)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    if form == "tick":
        await query.answer()
        await render.replace(update, gp_summary.offer_screen(actor.tr, scores=bool(scores)))
        return
    now = context.services.clock.now()
    data = None
    if actor.person_id is not None:
        async with context.reads() as session:
            data = await gp_summary.load_summary(
                session, actor.person_id, now, context.services.questionnaires)
    if data is None:
        await query.answer(actor.tr._("This button belongs to a course you are not in."),
                           show_alert=True)
        return
    await query.answer()
    chat = update.effective_chat
    assert chat is not None
    await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
    page = gp_summary.summary_page(actor.tr, data, now, scores=bool(scores))
    # Laid out in the drawing process, like the /progress picture.
    pdf = await context.bot_data.drawing.run(gp_summary.render_pdf, page)
    await render.send(update, gp_summary.summary_screen(actor.tr, pdf))


# -- /settings -------------------------------------------------------------------------------


async def settings_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if actor.person_id is None:
        await render.send(update, not_in_team_screen(actor.tr))
        return
    await render.send(update, await _settings_screen(context, actor, actor.tr))


async def _settings_screen(context: BotContext, actor: Actor, tr: Tr) -> Screen:
    assert actor.person_id is not None
    services = context.services
    async with context.reads() as session:
        membership = await course.participant_membership(session, actor.person_id)
        zone = (
            await course.team_zone(session, membership) if membership
            else ZoneInfo(services.settings.default_timezone)
        )
        view = await settings.settings_view(
            session, actor.person_id, tr.locale, zone, services.clock.now()
        )
    return settings.settings_screen(tr, view)


async def settings_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    if actor.person_id is None:
        await common.stale_button(update, context)
        return
    services = context.services
    try:
        data = decode(query.data)
        match data.args:
            case ("lang",):
                await query.answer()
                await render.replace(update, language.language_screen(actor.tr))
                return
            case ("quiet",):
                async with context.reads() as session:
                    view = await settings.settings_view(
                        session, actor.person_id, actor.locale,
                        ZoneInfo(services.settings.default_timezone), services.clock.now(),
                    )
                await query.answer()
                await render.replace(update, settings.quiet_hours_screen(actor.tr, view.quiet))
                return
            case ("q", start, end):
                quiet = settings.parse_quiet(start, end)
                async with services.sessions.begin() as session:
                    await settings.set_quiet_hours(session, actor.person_id, *quiet)
            case ("pause",):
                async with services.sessions.begin() as session:
                    await settings.pause_reminders(session, actor.person_id, services.clock.now())
            case ("resume",):
                async with services.sessions.begin() as session:
                    await settings.resume_reminders(session, actor.person_id)
            case ("name",):
                async with services.sessions.begin() as session:
                    await state.wait_for(session, actor.person_id, state.AWAITING_NAME,
                                         services.clock.now())
                await query.answer()
                await render.replace(update, onboarding.write_name_screen(actor.tr))
                return
            case _:
                raise CallbackDataError("unknown settings button")
    except (CallbackDataError, ValueError):
        await common.stale_button(update, context)
        return
    await query.answer()
    await render.replace(update, await _settings_screen(context, actor, actor.tr))
