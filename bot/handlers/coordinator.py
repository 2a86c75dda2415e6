"""Coordinator handlers: accepting a coordinator invite, teams, summaries, invites, failures.

Every command and button checks the coordinator's grants as loaded from the database for this
update; a team or invite outside the granted municipalities is refused like a stranger's.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.helpers import create_deep_linked_url

from bot import render
from bot.commands import register_staff_menu
from bot.context import Actor, BotContext
from bot.handlers import common
from dialogs import (
    coordinator,
    coordinator_chat,
    coordinator_team,
    delivery_report,
    exports,
    onboarding,
    team_summary,
)
from dialogs.callbacks import CallbackDataError, decode
from dialogs.screen import Screen


async def _refuse(update: Update, actor: Actor) -> None:
    await render.send(update, coordinator_chat.refusal_screen(actor.tr))


async def _refuse_button(update: Update, actor: Actor) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(coordinator_chat.refusal_screen(actor.tr).text, show_alert=True)


async def coordinator_invite(update: Update, context: BotContext, code: str) -> None:
    """/start with a coordinator invite: say what is stored, then accept or decline."""
    await render.send(update, coordinator_chat.invitation_screen(context.acting.tr, code))


async def _unused_words(update: Update, context: BotContext, command: str) -> None:
    if context.args:
        await render.send(update, coordinator_chat.unused_words_screen(
            context.acting.tr, command, list(context.args)))


async def teams_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if not actor.coordinator_municipality_ids:
        await _refuse(update, actor)
        return
    await _unused_words(update, context, "teams")
    teams = await coordinator_chat.teams(context.services.sessions,
                                         actor.coordinator_municipality_ids)
    await render.send(update, coordinator_chat.teams_screen(actor.tr, teams))


async def failures_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if not actor.coordinator_municipality_ids:
        await _refuse(update, actor)
        return
    await _unused_words(update, context, "failures")
    async with context.reads() as session:
        failed, unreachable = await delivery_report.failures(
            session, actor.coordinator_municipality_ids
        )
    await render.send(update, delivery_report.failures_screen(actor.tr, failed, unreachable))


async def export_command(update: Update, context: BotContext) -> None:
    """Every granted municipality's pseudonymised data, as zipped documents in this chat."""
    actor = context.acting
    if not actor.coordinator_municipality_ids or actor.person_id is None:
        await _refuse(update, actor)
        return
    services = context.services
    await _unused_words(update, context, "export")
    names = await coordinator_chat.municipality_names(
        services.sessions, actor.coordinator_municipality_ids)
    await render.send(update, coordinator_chat.export_started_screen(actor.tr, names))
    async with context.reads() as session:
        scope = await exports.coordinator_scope(session, actor.person_id)
    chat = update.effective_chat
    assert chat is not None
    with tempfile.TemporaryDirectory(prefix="mestring-export-") as tmp:
        parts = await exports.export_for_chat(
            services.sessions, scope, f"coordinator:{actor.person_id}", services.clock.now(),
            Path(tmp), language=actor.locale,
        )
        for part in parts:
            await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
            with part.open("rb") as fh:
                await chat.send_document(fh, filename=part.name)
    await render.send(update, coordinator_chat.export_ready_screen(actor.tr, len(parts), names))


async def button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        data = decode(query.data)
        action = next((a for a in coordinator_chat.ACTIONS if a == data.action), None)
        if action is None:
            raise CallbackDataError("unknown coordinator button")
        args = action.read_args(data.args)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    match action, args:
        case coordinator_chat.DECLINE, ():
            await query.answer()
            await render.replace(update, onboarding.refused_screen(actor.tr))
        case coordinator_chat.ACCEPT, (code,):
            await query.answer()
            await _accept(update, context, actor, code)
        case coordinator_chat.SUMMARY, (team_id,):
            await _summary(update, context, actor, team_id)
        case coordinator_chat.INVITE, (team_id,):
            await _invite(update, context, actor, team_id)
        case coordinator_chat.REVOKE, (invite_id,):
            await _revoke(update, context, actor, invite_id)


async def _accept(update: Update, context: BotContext, actor: Actor, code: str) -> None:
    services = context.services
    user = update.effective_user
    assert user is not None
    async with services.sessions.begin() as session:
        grant = await coordinator.accept_coordinator_invite(
            session, code=code, telegram_user_id=actor.telegram_user_id, chat_id=actor.chat_id,
            display_name=onboarding.clean_name(user.first_name or ""), locale=actor.locale,
            now=services.clock.now(), throttle_secret=services.throttle_secret,
        )
    tr = actor.tr
    if grant.result is coordinator.GrantResult.INVITE_INVALID:
        # Why: expired, revoked, used, not found, or too many wrong codes.
        await render.replace(update, onboarding.invite_problem_screen(tr, grant.invite_status))
        return
    await render.replace(update, coordinator_chat.welcome_screen(tr, grant.municipality_name or ""))
    await register_staff_menu(context.bot, services.catalogs, actor.chat_id, actor.locale,
                              coordinator=True, instructor=bool(actor.instructor_team_ids))


async def _summary(update: Update, context: BotContext, actor: Actor, team_id: int) -> None:
    query = update.callback_query
    assert query is not None
    summary = await coordinator_chat.summary(
        context.services.sessions, actor.coordinator_municipality_ids, team_id)
    if summary is None:
        await _refuse_button(update, actor)
        return
    await query.answer()
    await render.send(update, team_summary.summary_screen(actor.tr, summary))
    png = await context.bot_data.drawing.run(
        team_summary.render_summary_png, summary,
        team_summary.summary_chart_words(actor.tr, summary),
    )
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(png)


async def _invite(update: Update, context: BotContext, actor: Actor, team_id: int) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    made = await coordinator_chat.invite(
        services.sessions, actor.coordinator_municipality_ids, team_id,
        person_id=actor.person_id, now=services.clock.now())
    if made is None:
        await _refuse_button(update, actor)
        return
    await query.answer()
    link = create_deep_linked_url(context.bot.username, made.code)
    chat = update.effective_chat
    assert chat is not None
    qr = await asyncio.to_thread(coordinator_chat.invite_qr_png, link)
    await chat.send_photo(qr, caption=coordinator_chat.invite_caption(actor.tr, made, link),
                          parse_mode=ParseMode.HTML)
    await render.send(update, coordinator_chat.invite_made_screen(actor.tr, made))


async def _revoke(update: Update, context: BotContext, actor: Actor, invite_id: int) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    revoked = await coordinator_chat.revoke(
        services.sessions, actor.coordinator_municipality_ids, invite_id,
        person_id=actor.person_id, now=services.clock.now())
    if revoked is coordinator_chat.Revoked.REFUSED:
        await _refuse_button(update, actor)
        return
    await query.answer()
    await render.replace(update, coordinator_chat.revoked_screen(actor.tr, revoked))


# -- a new team in chat ----------------------------------------------------------------------


async def new_team_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if not actor.coordinator_municipality_ids or actor.person_id is None:
        await _refuse(update, actor)
        return
    await _unused_words(update, context, "newteam")
    services = context.services
    choices = await coordinator_team.open_draft(
        services.sessions, actor.person_id, actor.coordinator_municipality_ids,
        services.clock.now())
    if choices:
        await render.send(update, coordinator_team.choose_municipality_screen(actor.tr, choices))
    else:
        await render.send(update, coordinator_team.step_screen(actor.tr, "name"))


async def new_team_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    services = context.services
    now = services.clock.now()
    allowed = actor.coordinator_municipality_ids
    if actor.person_id is None or not allowed:
        await _refuse_button(update, actor)
        return
    try:
        args = coordinator_team.ACTION.parse(query.data)
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    screen: Screen | None = None
    async with services.sessions.begin() as session:
        match args:
            case ("m", municipality_id) if municipality_id in allowed:
                await coordinator_team.begin(session, actor.person_id, municipality_id, now)
                screen = coordinator_team.step_screen(actor.tr, "name")
            case ("skip",):
                draft = await coordinator_team.skip_url(session, actor.person_id, now)
                screen = coordinator_team.step_screen(actor.tr, draft.step) if draft else None
            case ("h", choice):
                draft = await coordinator_team.choose_holidays(session, actor.person_id, choice,
                                                               now)
                screen = coordinator_team.step_screen(actor.tr, draft.step) if draft else None
            case ("l", language):
                try:
                    created = await coordinator_team.finish(session, actor.person_id, allowed,
                                                            language, now)
                except coordinator.CoordinatorError as error:
                    created, screen = None, coordinator_team.failed_screen(actor.tr, error)
                if created is not None:
                    screen = coordinator_team.created_screen(
                        actor.tr, created,
                        create_deep_linked_url(context.bot.username,
                                               created.participant_invite.code),
                        create_deep_linked_url(context.bot.username,
                                               created.instructor_invite.code),
                    )
    if screen is None:
        await common.stale_button(update, context)
        return
    await query.answer()
    await render.send(update, screen)


async def typed_new_team(update: Update, context: BotContext) -> None:
    actor = context.acting
    message = update.effective_message
    assert actor.person_id is not None
    assert message is not None
    services = context.services
    async with services.sessions.begin() as session:
        draft, problem = await coordinator_team.answer(
            session, actor.person_id, actor.coordinator_municipality_ids, message.text,
            services.clock.now(),
        )
        following = (await coordinator_team.next_screen(session, actor.tr, draft)
                     if draft is not None and problem is None else None)
    if problem == "gone" or draft is None:
        await _refuse(update, actor)
    elif problem is not None:
        await render.send(update, coordinator_team.problem_screen(actor.tr, problem))
    else:
        assert following is not None
        await render.send(update, following)
