"""Data-rights handlers: /mydata, /delete, /privacy and their buttons.

Thin by design: check who presses (from the database, never from the button alone), call a
use-case of :mod:`dialogs.privacy` in one transaction, render after it.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ParseMode

from bot import render
from bot.context import Actor, BotContext
from bot.handlers import common
from dialogs import privacy
from dialogs.callbacks import CallbackDataError, decode
from storage.engine import engine_of
from storage.scrub import purge_erased_copies


async def mydata_command(update: Update, context: BotContext) -> None:
    await _send_export(update, context, context.acting)


async def _send_export(update: Update, context: BotContext, actor: Actor) -> None:
    services = context.services
    export = None
    if actor.person_id is not None:
        async with context.reads() as session:
            export = await privacy.export_person(session, actor.person_id, services.clock.now())
    chat = update.effective_chat
    if export is None or chat is None:
        await render.send(update, privacy.nothing_stored_screen(actor.tr))
        return
    await chat.send_document(
        export.content, filename=export.filename,
        caption=privacy.mydata_summary(actor.tr, export), parse_mode=ParseMode.HTML,
    )


async def delete_command(update: Update, context: BotContext) -> None:
    await _ask(update, context, privacy.Kind.DELETE, replace=False)


async def privacy_command(update: Update, context: BotContext) -> None:
    actor = context.acting
    if actor.person_id is None:
        await render.send(update, privacy.nothing_stored_screen(actor.tr))
        return
    await render.send(update, privacy.privacy_screen(actor.tr))


async def _ask(update: Update, context: BotContext, kind: privacy.Kind, *, replace: bool) -> None:
    actor = context.acting
    if actor.person_id is None:
        screen = privacy.nothing_stored_screen(actor.tr)
    else:
        services = context.services
        confirm = privacy.confirm_callback(
            services.throttle_secret, actor.person_id, kind, services.clock.now()
        )
        screen = privacy.confirm_screen(actor.tr, kind, confirm)
    if replace:
        await render.replace(update, screen)
    else:
        await render.send(update, screen)


async def privacy_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = context.acting
    if actor.person_id is None:
        # Erased already (a double tap on "yes"), or never known.
        await query.answer(privacy.expired_confirmation_text(actor.tr), show_alert=True)
        return
    try:
        data = decode(query.data)
        match data.args:
            case ("get",):
                await query.answer()
                await _send_export(update, context, actor)
            case ("ask", kind):
                await query.answer()
                await _ask(update, context, privacy.parse_kind(kind), replace=True)
            case ("no",):
                await query.answer()
                await render.replace(update, privacy.kept_screen(actor.tr))
            case ("yes", *args):
                await _confirmed(update, context, actor, args)
            case _:
                raise CallbackDataError("unknown privacy button")
    except CallbackDataError:
        await common.stale_button(update, context)


async def _confirmed(update: Update, context: BotContext, actor: Actor, args: list[str]) -> None:
    query = update.callback_query
    assert query is not None
    assert actor.person_id is not None
    services = context.services
    now = services.clock.now()
    try:
        kind = privacy.check_confirmation(services.throttle_secret, actor.person_id, args, now)
    except CallbackDataError:
        await query.answer(privacy.expired_confirmation_text(actor.tr), show_alert=True)
        return
    async with services.sessions.begin() as session:
        if kind is privacy.Kind.WITHDRAW:
            await privacy.withdraw_consent(session, actor.person_id, now,
                                           throttle_secret=services.throttle_secret)
        else:
            await privacy.erase_person(session, actor.person_id, now,
                                       reason=privacy.Reason.REQUEST,
                                       throttle_secret=services.throttle_secret)
    await query.answer()
    await render.replace(update, privacy.erased_screen(actor.tr))
    # After the person has their answer: the erasure is committed, this only wipes old copies.
    await purge_erased_copies(engine_of(services.sessions), privacy.erased_tables())


