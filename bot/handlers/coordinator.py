"""Coordinator handlers: accepting a coordinator invite, teams, summaries, invites, failures.

Every command and button checks the coordinator's grants as loaded from the database for this
update; a team or invite outside the granted municipalities is refused like a stranger's.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import segno
from sqlalchemy import select
from telegram import Update
from telegram.constants import ChatAction, ParseMode
from telegram.helpers import create_deep_linked_url

from bot import render
from bot.commands import register_staff_menu
from bot.context import Actor, BotContext
from bot.handlers import common
from dialogs import (
    coordinator,
    coordinator_team,
    delivery_report,
    exports,
    onboarding,
    team_summary,
)
from dialogs.callbacks import INT, TEXT, Action, CallbackDataError, callback, decode
from dialogs.invites import create_invite, revoke_invite
from dialogs.screen import Button, Screen, escape
from storage.models import Invite, InviteRole, Municipality, Team

ACCEPT = Action("ca", TEXT)
DECLINE = Action("cn")
SUMMARY = Action("cs", INT)
INVITE = Action("ci", INT)
REVOKE = Action("cr", INT)
ACTIONS = (ACCEPT, DECLINE, SUMMARY, INVITE, REVOKE)


def refusal_screen(actor: Actor) -> Screen:
    return Screen.of(actor.tr._(
        "This is for course coordinators, and you do not have access to it. "
        "Type /help to see what you can do."
    ))


async def coordinator_invite(update: Update, context: BotContext, code: str) -> None:
    """/start with a coordinator invite: say what is stored, then accept or decline."""
    tr = context.acting.tr
    await render.send(update, Screen.of(
        "\n\n".join((
            tr._("<b>You are invited as a coordinator</b>"),
            tr._("Coordinators create teams, make invite links and get pseudonymised exports "
                 "for their municipality. I store your Telegram account, your name and your "
                 "role. You can delete this with /delete."),
        )),
        [Button(tr._("Accept"), callback(ACCEPT, code))],
        [Button(tr._("No, thank you"), callback(DECLINE))],
    ))


async def _teams_screen(context: BotContext, actor: Actor) -> Screen:
    async with context.services.sessions() as session:
        teams = await coordinator.teams_in(session, actor.coordinator_municipality_ids)
    tr = actor.tr
    if not teams:
        return Screen.of(tr._("There are no teams in your municipalities yet."))
    rows = [
        [Button(team.name, callback(SUMMARY, team.id)),
         Button(tr._("Invite link"), callback(INVITE, team.id))]
        for team in teams
    ]
    return Screen.of(tr._("<b>Your teams</b>\nChoose a team for its summary or an invite link."),
                     *rows)


async def teams_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if not actor.coordinator_municipality_ids:
        await render.send(update, refusal_screen(actor))
        return
    await render.send(update, await _teams_screen(context, actor))


async def failures_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if not actor.coordinator_municipality_ids:
        await render.send(update, refusal_screen(actor))
        return
    async with context.services.sessions() as session:
        failed, unreachable = await delivery_report.failures(
            session, actor.coordinator_municipality_ids
        )
    await render.send(update, delivery_report.failures_screen(actor.tr, failed, unreachable))


async def export_command(update: Update, context: BotContext) -> None:
    """Every granted municipality's pseudonymised data, as zipped documents in this chat."""
    actor = context.acting
    if not actor.coordinator_municipality_ids or actor.person_id is None:
        await render.send(update, refusal_screen(actor))
        return
    services = context.services
    tr = actor.tr
    await render.send(update, Screen.of(tr._(
        "I am preparing the export for your municipalities. It contains study IDs only, "
        "never names. This can take a minute."
    )))
    async with services.sessions() as session:
        scope = await exports.coordinator_scope(session, actor.person_id)
    chat = update.effective_chat
    assert chat is not None
    with tempfile.TemporaryDirectory(prefix="mestring-export-") as tmp:
        parts = await exports.export_for_chat(
            services.sessions, scope, f"coordinator:{actor.person_id}", services.clock.now(),
            Path(tmp),
        )
        for part in parts:
            await chat.send_action(ChatAction.UPLOAD_DOCUMENT)
            with part.open("rb") as fh:
                await chat.send_document(fh, filename=part.name)
    await render.send(update, Screen.of(tr.n_(
        "The export is ready: {n} file. The codebook explains every column.",
        "The export is ready: {n} files. The codebook explains every column.",
        len(parts),
    )))


async def button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        data = decode(query.data)
        action, args = data.action, data.args
        if action == DECLINE and not args:
            await query.answer()
            await render.replace(update, onboarding.refused_screen(actor.tr))
            return
        (arg,) = args
        if action == ACCEPT:
            await query.answer()
            await _accept(update, context, actor, arg)
        elif action == SUMMARY:
            await _summary(update, context, actor, int(arg))
        elif action == INVITE:
            await _invite(update, context, actor, int(arg))
        elif action == REVOKE:
            await _revoke(update, context, actor, int(arg))
        else:
            raise CallbackDataError("unknown coordinator button")
    except (CallbackDataError, ValueError):
        await common.stale_button(update, context)


async def _accept(update: Update, context: BotContext, actor: Actor, code: str) -> None:
    services = context.services
    user = update.effective_user
    assert user is not None
    async with services.sessions.begin() as session:
        grant = await coordinator.accept_coordinator_invite(
            session, code=code, telegram_user_id=actor.telegram_user_id, chat_id=actor.chat_id,
            display_name=onboarding.clean_name(user.first_name or ""), locale=actor.locale,
            now=services.clock.now(),
        )
    tr = actor.tr
    if grant.result is coordinator.GrantResult.INVITE_INVALID:
        await render.replace(update, onboarding.invite_problem_screen(
            tr, onboarding.InviteStatus.USED_UP
        ))
        return
    await render.replace(update, Screen.of(tr._(
        "You are now coordinator for {municipality}. Type /teams to see its teams.",
        municipality=escape(grant.municipality_name or ""),
    )))
    await register_staff_menu(context.bot, services.catalogs, actor.chat_id, actor.locale,
                              coordinator=True, instructor=bool(actor.instructor_team_ids))


async def _own_team(context: BotContext, actor: Actor, team_id: int) -> Team | None:
    async with context.services.sessions() as session:
        team = await session.get(Team, team_id)
    if team is None or team.municipality_id not in actor.coordinator_municipality_ids:
        return None
    return team


async def _summary(update: Update, context: BotContext, actor: Actor, team_id: int) -> None:
    query = update.callback_query
    assert query is not None
    if await _own_team(context, actor, team_id) is None:
        await query.answer(refusal_screen(actor).text, show_alert=True)
        return
    await query.answer()
    async with context.services.sessions() as session:
        summary = await team_summary.team_summary(session, team_id)
    await render.send(update, team_summary.summary_screen(actor.tr, summary))
    png = await asyncio.to_thread(
        team_summary.render_summary_png, summary,
        team_summary.summary_chart_words(actor.tr, summary),
    )
    chat = update.effective_chat
    assert chat is not None
    await chat.send_photo(png)


async def _invite(update: Update, context: BotContext, actor: Actor, team_id: int) -> None:
    query = update.callback_query
    assert query is not None
    team = await _own_team(context, actor, team_id)
    if team is None:
        await query.answer(refusal_screen(actor).text, show_alert=True)
        return
    await query.answer()
    services = context.services
    async with services.sessions.begin() as session:
        team = await session.get(Team, team_id)
        assert team is not None
        new = await create_invite(session, team=team, role=InviteRole.PARTICIPANT,
                                  now=services.clock.now(),
                                  created_by=f"coordinator:{actor.person_id}")
    link = create_deep_linked_url(context.bot.username, new.code)
    tr = actor.tr
    chat = update.effective_chat
    assert chat is not None
    qr = await asyncio.to_thread(_qr_png, link)
    caption = tr._("Invite link for participants of {team}:\n{link}",
                   team=escape(team.name), link=link)
    await chat.send_photo(qr, caption=caption, parse_mode=ParseMode.HTML)
    await render.send(update, Screen.of(
        tr._("The link works for {days} days.", days=60),
        [Button(tr._("Revoke this link"), callback(REVOKE, new.invite.id))],
    ))


def _qr_png(link: str) -> bytes:
    import io

    buffer = io.BytesIO()
    segno.make(link, error="h").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


async def _revoke(update: Update, context: BotContext, actor: Actor, invite_id: int) -> None:
    query = update.callback_query
    assert query is not None
    services = context.services
    async with services.sessions.begin() as session:
        invite = await session.get(Invite, invite_id)
        allowed = (invite is not None and invite.municipality_id
                   in actor.coordinator_municipality_ids)
        revoked = allowed and await revoke_invite(
            session, invite_id, now=services.clock.now(),
            actor=f"coordinator:{actor.person_id}",
        )
    if not allowed:
        await query.answer(refusal_screen(actor).text, show_alert=True)
        return
    await query.answer()
    text = (actor.tr._("The link is revoked and no longer works.") if revoked
            else actor.tr._("The link was already revoked."))
    await render.replace(update, Screen.of(text))


# -- a new team in chat ----------------------------------------------------------------------


async def new_team_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if not actor.coordinator_municipality_ids or actor.person_id is None:
        await render.send(update, refusal_screen(actor))
        return
    services = context.services
    async with services.sessions() as session:
        municipalities = list(await session.scalars(
            select(Municipality).where(Municipality.id.in_(actor.coordinator_municipality_ids))
            .order_by(Municipality.name)
        ))
    if len(municipalities) > 1:
        await render.send(update, coordinator_team.choose_municipality_screen(
            actor.tr, municipalities
        ))
        return
    async with services.sessions.begin() as session:
        await coordinator_team.begin(session, actor.person_id, municipalities[0].id,
                                     services.clock.now())
    await render.send(update, coordinator_team.step_screen(actor.tr, "name"))


async def new_team_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    services = context.services
    now = services.clock.now()
    allowed = actor.coordinator_municipality_ids
    if actor.person_id is None or not allowed:
        await query.answer(refusal_screen(actor).text, show_alert=True)
        return
    try:
        args = decode(query.data).args
    except CallbackDataError:
        await common.stale_button(update, context)
        return
    screen: Screen | None = None
    async with services.sessions.begin() as session:
        match args:
            case ("m", municipality_id) if municipality_id.isdigit() \
                    and int(municipality_id) in allowed:
                await coordinator_team.begin(session, actor.person_id, int(municipality_id), now)
                screen = coordinator_team.step_screen(actor.tr, "name")
            case ("skip",):
                draft = await coordinator_team.skip_url(session, actor.person_id, now)
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
    if problem == "gone" or draft is None:
        await render.send(update, refusal_screen(actor))
    elif problem is not None:
        await render.send(update, coordinator_team.problem_screen(actor.tr, problem))
    else:
        await render.send(update, coordinator_team.step_screen(actor.tr, draft.step))
