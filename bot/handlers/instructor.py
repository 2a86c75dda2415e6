"""Instructor handlers: joining by invite, /team, /broadcast, /sessions, /attendance.

Thin by design: decode, call an instructor use-case (which checks the role for the object
named, in the database, in its own transaction), render after the transaction. A refusal
rolls the transaction back, so a refused request changes nothing.

These handlers run in their own group before the dialogs' group: each that handles an update
stops it there (``ApplicationHandlerStop``), so the dialogs' catch-alls don't answer it too;
the message handler lets everything through except what an instructor dialog waits for.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
)

from bot import render
from bot.commands import register_staff_menu
from bot.context import Actor, BotContext
from bot.logs import pseudonym
from dialogs import instructor, state
from dialogs import instructor_broadcast as broadcast
from dialogs.callbacks import Action, CallbackDataError, decode
from dialogs.instructor_auth import Refusal, RefusalReason, not_instructor_screen, refusal_text
from dialogs.local_time import parse_local_time
from dialogs.screen import Screen
from locales.i18n import Tr

log = logging.getLogger(__name__)



# -- joining by invite -------------------------------------------------------------------------


async def instructor_invite(update: Update, context: BotContext, code: str) -> None:
    """/start with an instructor invite: the staff notice, then agree or decline."""
    actor = context.acting
    services = context.services
    async with context.reads() as session:
        team = await instructor.instructor_invitation(session, code, services.clock.now())
    if team is None:
        screen = instructor.join_problem_screen(actor.tr, instructor.JoinStatus.INVITE_INVALID)
    else:
        screen = instructor.staff_notice_screen(actor.tr, team, code)
    await render.send(update, screen)


async def _join(update: Update, context: BotContext, actor: Actor, code: str) -> None:
    services = context.services
    user = update.effective_user
    assert user is not None
    async with services.sessions.begin() as session:
        result = await instructor.join_as_instructor(
            session, code=code, telegram_user_id=actor.telegram_user_id, chat_id=actor.chat_id,
            locale=actor.locale, telegram_language_code=user.language_code,
            now=services.clock.now(), throttle_secret=services.throttle_secret,
            config=services.delivery,
        )
    if result.status not in (instructor.JoinStatus.JOINED, instructor.JoinStatus.ALREADY):
        await render.replace(update, instructor.join_problem_screen(
            actor.tr, result.status, result.invite_status))
        return
    first, *rest = instructor.joined_screens(actor.tr, result, user.first_name)
    await render.replace(update, first)
    for screen in rest:
        await render.send(update, screen)
    if result.status is instructor.JoinStatus.JOINED:
        log.info("instructor joined team=%s person=%s", result.team.team_id if result.team
                 else "-", pseudonym(actor.telegram_user_id))
        await _register_menu(context, actor)


async def _register_menu(context: BotContext, actor: Actor) -> None:
    """Instructor commands in this person's menu only; a failure leaves them typeable."""
    try:
        await register_staff_menu(
            context.bot, context.services.catalogs, actor.chat_id, actor.locale,
            instructor=True, coordinator=bool(actor.coordinator_municipality_ids),
        )
    except TelegramError as exc:
        log.warning("instructor menu not set for %s: %s", pseudonym(actor.telegram_user_id),
                    type(exc).__name__)


# -- commands ----------------------------------------------------------------------------------


async def team_command(update: Update, context: BotContext) -> None:
    """The roster: names, progress counts, reachability — never answers."""
    await _choose_team(update, context, instructor.FOR_ROSTER)


async def broadcast_command(update: Update, context: BotContext) -> None:
    await _choose_team(update, context, instructor.FOR_BROADCAST)


async def sessions_command(update: Update, context: BotContext) -> None:
    await _choose_team(update, context, instructor.FOR_SESSIONS)


async def attendance_command(update: Update, context: BotContext) -> None:
    await _choose_team(update, context, instructor.FOR_ATTENDANCE)


async def _choose_team(update: Update, context: BotContext, what: str) -> None:
    actor = context.acting
    if actor.person_id is None or not actor.instructor_team_ids:
        await render.send(update, not_instructor_screen(actor.tr))
        return
    async with context.reads() as session:
        teams = await instructor.instructor_teams(session, actor.person_id)
    if not teams:
        await render.send(update, not_instructor_screen(actor.tr))
    elif len(teams) > 1:
        await render.send(update, instructor.choose_team_screen(actor.tr, what, teams))
    else:
        await _for_team(update, context, actor, what, teams[0].team_id)


async def _for_team(
    update: Update, context: BotContext, actor: Actor, what: str, team_id: int
) -> None:
    """What a command (or a team button) leads to, for one team. Refusals are raised."""
    assert actor.person_id is not None
    services = context.services
    tr = actor.tr
    now = services.clock.now()
    match what:
        case instructor.FOR_ROSTER:
            async with context.reads() as session:
                roster = await instructor.team_roster(
                    session, person_id=actor.person_id, team_id=team_id, now=now)
            first, *rest = instructor.roster_texts(tr, roster)
            await _show(update, Screen.of(first))
            for text in rest:
                await render.send(update, Screen.of(text))
        case instructor.FOR_BROADCAST:
            async with services.sessions.begin() as session:
                start = await broadcast.start_broadcast(
                    session, person_id=actor.person_id, team_id=team_id, now=now,
                    per_day=services.settings.broadcasts_per_day)
                if not start.limit_reached:
                    await state.wait_for(session, actor.person_id, broadcast.STATE, now,
                                         team_id=team_id)
            if start.limit_reached:
                await _show(update, broadcast.daily_limit_screen(tr, start.team_name,
                                                                 start.per_day))
            else:
                await _show(update, broadcast.write_screen(tr, start.team_name))
        case instructor.FOR_SESSIONS | instructor.FOR_ATTENDANCE:
            async with context.reads() as session:
                team, webinars = await instructor.team_webinars(
                    session, person_id=actor.person_id, team_id=team_id)
            if what == instructor.FOR_SESSIONS:
                await _show(update, instructor.webinars_screen(tr, team, webinars, now))
            else:
                await _show(update, instructor.attendance_webinars_screen(tr, team, webinars, now))
        case _:
            raise CallbackDataError("unknown team choice")


async def _show(update: Update, screen: Screen) -> None:
    """In place of the pressed message for a button, as a new message for a command."""
    if update.callback_query is not None:
        await render.replace(update, screen)
    else:
        await render.send(update, screen)


async def _refuse(update: Update, tr: Tr, reason: RefusalReason) -> None:
    text = refusal_text(tr, reason)
    query = update.callback_query
    if query is not None:
        await query.answer(text, show_alert=True)
    else:
        await render.send(update, Screen.of(text))


# -- buttons -----------------------------------------------------------------------------------


async def button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    try:
        data = decode(query.data)
        if data.action in (instructor.JOIN, instructor.DECLINE):
            # Before the role exists: consent is carried by the button, as for participants.
            await query.answer()
            if data.action == instructor.JOIN:
                (code,) = instructor.JOIN.read_args(data.args)
                await _join(update, context, actor, code)
            else:
                await render.replace(update, instructor.declined_screen(actor.tr))
            return
        if actor.person_id is None or not actor.instructor_team_ids:
            raise Refusal(RefusalReason.NOT_INSTRUCTOR)
        action = _STAFF_BUTTONS.get(data.action)
        if action is None:
            raise CallbackDataError("not a staff button")
        await _instructor_button(update, context, actor, action, action.read_args(data.args))
        await query.answer()
    except Refusal as refusal:
        log.info("instructor button refused: %s by %s", refusal.reason,
                 pseudonym(actor.telegram_user_id))
        await _refuse(update, actor.tr, refusal.reason)
    except (CallbackDataError, ValueError, KeyError, IndexError, OverflowError):
        await query.answer(
            actor.tr._("This button is no longer in use. Type /help to see what I can do."),
            show_alert=True,
        )


# What only a staff member of the team may press (the pattern in bot/app.py routes them here).
_STAFF_BUTTONS: dict[str, Action] = {
    a.code: a for a in (*instructor.ACTIONS, *broadcast.ACTIONS)
    if a not in (instructor.JOIN, instructor.DECLINE)
}


async def _instructor_button(
    update: Update, context: BotContext, actor: Actor, action: Action, args: tuple[Any, ...]
) -> None:
    """Do what the button asks, with its typed arguments."""
    assert actor.person_id is not None
    person = actor.person_id
    services = context.services
    tr = actor.tr
    now = services.clock.now()
    match action, args:
        case instructor.TEAM, (what, team):
            await _for_team(update, context, actor, what, team)
        case instructor.WEBINARS, (team,):
            await _for_team(update, context, actor, instructor.FOR_SESSIONS, team)
        case instructor.WEBINAR, (webinar_id,):
            async with services.sessions.begin() as session:
                info = await instructor.webinar_for_instructor(
                    session, person_id=person, webinar_id=webinar_id)
                await _stop_waiting_for(session, person, instructor.MOVE_STATE)
            await render.replace(update, instructor.webinar_screen(tr, info, now))
        case instructor.MOVE_ASK, (webinar_id, move):
            async with context.reads() as session:
                info = await instructor.webinar_for_instructor(
                    session, person_id=person, webinar_id=webinar_id)
            if info.started(now):
                raise Refusal(RefusalReason.TOO_LATE)
            new_start = instructor.local_plus(info.starts_at, info.tz, instructor.QUICK_MOVES[move])
            await render.replace(update, instructor.move_confirm_screen(tr, info, new_start))
        case instructor.MOVE_TYPE, (webinar_id,):
            async with services.sessions.begin() as session:
                info = await instructor.webinar_for_instructor(
                    session, person_id=person, webinar_id=webinar_id)
                if info.started(now):
                    raise Refusal(RefusalReason.TOO_LATE)
                await state.wait_for(session, person, instructor.MOVE_STATE, now,
                                     webinar_id=webinar_id)
            await render.replace(update, instructor.type_time_screen(tr, info))
        case instructor.MOVE_OK, (webinar_id, moment):
            async with services.sessions.begin() as session:
                info = await instructor.move_webinar(
                    session, person_id=person, webinar_id=webinar_id,
                    new_start=datetime.fromtimestamp(moment, UTC), now=now,
                    config=services.delivery)
                await _stop_waiting_for(session, person, instructor.MOVE_STATE)
            await render.replace(update, instructor.moved_screen(tr, info, now))
        case instructor.CANCEL_ASK, (webinar_id,):
            async with context.reads() as session:
                info = await instructor.webinar_for_instructor(
                    session, person_id=person, webinar_id=webinar_id)
            if info.started(now):
                raise Refusal(RefusalReason.TOO_LATE)
            await render.replace(update, instructor.cancel_confirm_screen(tr, info))
        case instructor.CANCEL_OK, (webinar_id,):
            async with services.sessions.begin() as session:
                info = await instructor.cancel_webinar(
                    session, person_id=person, webinar_id=webinar_id, now=now,
                    config=services.delivery)
            await render.replace(update, instructor.cancelled_screen(tr, info, now))
        case instructor.ATTENDANCE, (webinar_id,):
            async with context.reads() as session:
                sheet = await instructor.attendance_sheet(
                    session, person_id=person, webinar_id=webinar_id, now=now)
            await render.replace(update, instructor.attendance_screen(tr, sheet))
        case instructor.MARK, (webinar_id, membership_id):
            async with services.sessions.begin() as session:
                sheet = await instructor.toggle_attendance(
                    session, person_id=person, webinar_id=webinar_id,
                    membership_id=membership_id, now=now)
            await render.replace(update, instructor.attendance_screen(tr, sheet))
        case broadcast.SEND, (broadcast_id,):
            async with services.sessions.begin() as session:
                confirmed = await broadcast.confirm_broadcast(
                    session, person_id=person, broadcast_id=broadcast_id, now=now,
                    per_day=services.settings.broadcasts_per_day)
            await render.replace(update, broadcast.confirmed_screen(tr, confirmed))
        case broadcast.DISCARD, (broadcast_id,):
            async with services.sessions.begin() as session:
                discarded = await broadcast.discard_broadcast(
                    session, person_id=person, broadcast_id=broadcast_id)
            await render.replace(update, broadcast.discarded_screen(tr, discarded))
        case broadcast.STOP, ():
            async with services.sessions.begin() as session:
                await _stop_waiting_for(session, person, broadcast.STATE)
            await render.replace(update, broadcast.stopped_screen(tr))


async def _stop_waiting_for(session: AsyncSession, person_id: int, wanted: str) -> None:
    """Forget an instructor dialog's waiting, and nothing else the person is in the middle of."""
    waiting = await state.waiting_for(session, person_id)
    if waiting is not None and waiting.state == wanted:
        await state.stop_waiting(session, person_id)


# -- what an instructor types ------------------------------------------------------------------


async def typed(update: Update, context: BotContext) -> None:
    """A message while a broadcast text or a new webinar time is awaited; else pass it on."""
    actor = context.acting
    message = update.effective_message
    if actor.person_id is None or not actor.instructor_team_ids or message is None:
        return
    async with context.reads() as session:
        waiting = await state.waiting_for(session, actor.person_id)
    if waiting is None or waiting.state not in (broadcast.STATE, instructor.MOVE_STATE):
        return
    try:
        if waiting.state == broadcast.STATE:
            await _broadcast_draft(update, context, actor, int(waiting.data["team_id"]))
        else:
            await _typed_time(update, context, actor, int(waiting.data["webinar_id"]))
    except Refusal as refusal:
        async with context.services.sessions.begin() as session:
            await _stop_waiting_for(session, actor.person_id, waiting.state)
        await _refuse(update, actor.tr, refusal.reason)
    raise ApplicationHandlerStop


def _message_parts(update: Update) -> tuple[str, str | None, str | None]:
    """(text, media kind, file id) of what the instructor sent; kind "other" for the rest."""
    message = update.effective_message
    assert message is not None
    if message.text is not None:
        return message.text, None, None
    caption = message.caption or ""
    if message.photo:
        return caption, "photo", message.photo[-1].file_id  # the largest size
    if message.document is not None:
        return caption, "document", message.document.file_id
    return caption, "other", None


async def _broadcast_draft(
    update: Update, context: BotContext, actor: Actor, team_id: int
) -> None:
    assert actor.person_id is not None
    services = context.services
    tr = actor.tr
    text, media_kind, file_id = _message_parts(update)
    problem = broadcast.check_draft(text, media_kind)
    if problem is not None:
        await render.send(update, broadcast.draft_problem_screen(
            tr, problem, media_kind, broadcast.utf16_length(text)))
        return
    async with services.sessions.begin() as session:
        draft = await broadcast.draft_broadcast(
            session, person_id=actor.person_id, team_id=team_id, text=text,
            media_kind=media_kind, media_file_id=file_id, now=services.clock.now())
        await state.stop_waiting(session, actor.person_id)
    async with context.reads() as session:
        preview = await broadcast.broadcast_message(session, draft.broadcast_id, tr)
    assert preview is not None
    await render.send(update, preview)
    await render.send(update, broadcast.confirm_screen(tr, draft))


async def _typed_time(update: Update, context: BotContext, actor: Actor, webinar_id: int) -> None:
    assert actor.person_id is not None
    services = context.services
    now = services.clock.now()
    message = update.effective_message
    async with context.reads() as session:
        info = await instructor.webinar_for_instructor(
            session, person_id=actor.person_id, webinar_id=webinar_id)
    text = message.text if message is not None else None
    new_start = parse_local_time(text, info.tz) if text else None
    problem = instructor.check_new_start(new_start, now)
    if problem is not None:
        await render.send(update, instructor.move_problem_screen(actor.tr, problem, info))
        return
    assert new_start is not None
    async with services.sessions.begin() as session:
        await state.stop_waiting(session, actor.person_id)
    await render.send(update, instructor.move_confirm_screen(actor.tr, info, new_start))
