"""The application factory: the one place where everything is wired together.

:func:`handler_table` lists every handler with its group, in the order PTB runs them for each
update. :func:`build_runtime` builds what one process runs — the services, the PTB
``Application``, the outbox and retention jobs and their start/stop hooks — and is used alike by
``mestring run``, the demo, the tests and the benchmarks.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    BaseHandler,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import actor, errors
from bot.budget import TELEGRAM_MESSAGES_PER_SECOND, SendBudget
from bot.commands import register_menus_in_background
from bot.context import BotContext, BotData, Services
from bot.delivery import handlers as delivery_handlers
from bot.delivery.service import DeliveryService
from bot.delivery.telegram_sender import PtbSender, make_bot
from bot.drawing import Drawing
from bot.handlers import (
    common,
    coordinator,
    instructor,
    participant,
    privacy,
    questionnaire,
    robustness,
)
from bot.replies import ReplyLimiter
from bot.retention import RetentionService
from bot.settings import Settings
from bot.telegram_http import REPLY_CONNECTIONS, UPDATE_CONNECTIONS, TelegramHttp
from bot.timing import Timing
from bot.turn import TurnSessions
from bot.turn import current as current_turn
from bot.updates import ChatOrderedUpdateProcessor, FloodGuard
from dialogs import (
    action_plan,
    coordinator_chat,
    coordinator_team,
    course,
    gp_summary,
    language,
    onboarding,
    reminders,
    settings,
)
from dialogs import instructor as instructor_dialogs
from dialogs import instructor_broadcast as broadcast_dialogs
from dialogs import privacy as privacy_dialogs
from dialogs.callbacks import pattern as buttons
from dialogs.delivery.config import DeliveryConfig
from dialogs.questionnaires import screens as questionnaire_screens
from locales.i18n import Catalogs
from storage.clock import Clock, SystemClock
from storage.engine import create_engine
from storage.retry import retrying


class Group(enum.IntEnum):
    """Handler groups, in the order PTB runs them; in each, the first matching handler runs."""

    LOAD_ACTOR = -10  # the acting person, their roles and locale, from storage
    CHAT_MEMBER = -7  # Telegram: a person blocked or unblocked the bot in their private chat
    GUARD = -5  # groups, channels, edits, media, unknown commands: answered and stopped here
    INSTRUCTOR = -3  # staff commands, buttons and the typed answers they wait for
    PRIVACY = -1  # data rights come before any dialog
    DIALOGS = 0  # participants' and coordinators' dialogs, then the fallbacks


Callback = Callable[[Update, BotContext], Awaitable[None]]


def final(callback: Callback) -> Callback:
    """Handled here: no later group (the dialogs' fallbacks) answers this update again. (A
    handler that fails stops the update too: the error handler ends it.)"""

    async def handle(update: Update, context: BotContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    handle.__name__ = callback.__name__
    handle.__doc__ = callback.__doc__
    return handle


def repeatable(callback: Callback) -> Callback:
    """Run again after a transient database error (storage/retry.py), but only while nothing
    has reached the person: a repeat must never show them anything twice."""

    async def handle(update: Update, context: BotContext) -> None:
        turn = current_turn()
        await retrying(lambda: callback(update, context),
                       may_retry=lambda: turn is not None and turn.may_repeat,
                       what=callback.__name__)

    handle.__name__ = callback.__name__
    handle.__doc__ = callback.__doc__
    return handle


def handler_table() -> list[tuple[Group, BaseHandler]]:  # type: ignore[type-arg]
    """Every handler of the bot and its group, in order."""
    private = filters.ChatType.PRIVATE
    typed_text = private & filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED
    return [
        (Group.LOAD_ACTOR, TypeHandler(Update, actor.load_actor)),
        (Group.CHAT_MEMBER, ChatMemberHandler(
            delivery_handlers.chat_member_changed, ChatMemberHandler.MY_CHAT_MEMBER)),
        (Group.GUARD, TypeHandler(Update, robustness.guard)),
        # -- instructors
        (Group.INSTRUCTOR, CommandHandler(
            "team", final(instructor.team_command), filters=private)),
        (Group.INSTRUCTOR, CommandHandler(
            "broadcast", final(instructor.broadcast_command), filters=private)),
        (Group.INSTRUCTOR, CommandHandler(
            "sessions", final(instructor.sessions_command), filters=private)),
        (Group.INSTRUCTOR, CommandHandler(
            "attendance", final(instructor.attendance_command), filters=private)),
        (Group.INSTRUCTOR, CallbackQueryHandler(
            final(instructor.button),
            pattern=buttons(*instructor_dialogs.ACTIONS, *broadcast_dialogs.ACTIONS))),
        # Stops the update only when it answers what an instructor dialog waits for.
        (Group.INSTRUCTOR, MessageHandler(
            private & ~filters.COMMAND & ~filters.UpdateType.EDITED, instructor.typed)),
        # -- data rights
        (Group.PRIVACY, CommandHandler(
            "mydata", final(privacy.mydata_command), filters=private)),
        (Group.PRIVACY, CommandHandler(
            "delete", final(privacy.delete_command), filters=private)),
        (Group.PRIVACY, CommandHandler(
            "privacy", final(privacy.privacy_command), filters=private)),
        (Group.PRIVACY, CallbackQueryHandler(
            final(privacy.privacy_button), pattern=buttons(privacy_dialogs.ACTION))),
        # -- participants and coordinators
        (Group.DIALOGS, CommandHandler("start", participant.start, filters=private)),
        (Group.DIALOGS, CommandHandler("help", common.help_command, filters=private)),
        (Group.DIALOGS, CommandHandler("language", common.language_command, filters=private)),
        (Group.DIALOGS, CommandHandler("course", participant.course_command, filters=private)),
        (Group.DIALOGS, CommandHandler(
            "calendar", participant.calendar_command, filters=private)),
        (Group.DIALOGS, CommandHandler(
            "summary", participant.summary_command, filters=private)),
        (Group.DIALOGS, CommandHandler(
            "progress", participant.progress_command, filters=private)),
        (Group.DIALOGS, CommandHandler(
            "settings", participant.settings_command, filters=private)),
        (Group.DIALOGS, CommandHandler("plan", questionnaire.plan_command, filters=private)),
        (Group.DIALOGS, CommandHandler("teams", coordinator.teams_command, filters=private)),
        (Group.DIALOGS, CommandHandler(
            "failures", coordinator.failures_command, filters=private)),
        (Group.DIALOGS, CommandHandler("export", coordinator.export_command, filters=private)),
        (Group.DIALOGS, CommandHandler(
            "newteam", coordinator.new_team_command, filters=private)),
        (Group.DIALOGS, CallbackQueryHandler(
            common.language_chosen, pattern=buttons(language.ACTION))),
        (Group.DIALOGS, CallbackQueryHandler(participant.onboarding_step, pattern=buttons(
            onboarding.LANGUAGE, onboarding.ABOUT, onboarding.CONSENT_YES,
            onboarding.CONSENT_NO, onboarding.ADULT_YES, onboarding.ADULT_NO))),
        (Group.DIALOGS, CallbackQueryHandler(
            participant.name_button, pattern=buttons(onboarding.NAME_KEEP, onboarding.NAME_WRITE))),
        (Group.DIALOGS, CallbackQueryHandler(
            participant.module_step, pattern=buttons(course.STEP))),
        (Group.DIALOGS, CallbackQueryHandler(
            participant.module_done, pattern=buttons(course.DONE))),
        (Group.DIALOGS, CallbackQueryHandler(
            participant.tool_helpful, pattern=buttons(course.HELPFUL))),
        (Group.DIALOGS, CallbackQueryHandler(
            participant.summary_button, pattern=buttons(gp_summary.ACTION))),
        (Group.DIALOGS, CallbackQueryHandler(
            participant.settings_button, pattern=buttons(settings.ACTION))),
        (Group.DIALOGS, CallbackQueryHandler(
            questionnaire.start_from_prompt, pattern=buttons(reminders.QUESTIONNAIRE))),
        (Group.DIALOGS, CallbackQueryHandler(
            questionnaire.tap, pattern=buttons(*questionnaire_screens.ACTIONS))),
        (Group.DIALOGS, CallbackQueryHandler(
            questionnaire.plan_button, pattern=buttons(action_plan.ACTION))),
        (Group.DIALOGS, CallbackQueryHandler(
            delivery_handlers.not_now, pattern=buttons(reminders.LATER))),
        (Group.DIALOGS, CallbackQueryHandler(
            coordinator.button, pattern=buttons(*coordinator_chat.ACTIONS))),
        (Group.DIALOGS, CallbackQueryHandler(
            coordinator.new_team_button, pattern=buttons(coordinator_team.ACTION))),
        # -- fallbacks: a button or message nothing above took
        (Group.DIALOGS, CallbackQueryHandler(common.stale_button)),
        (Group.DIALOGS, MessageHandler(typed_text, participant.text_message)),
        (Group.DIALOGS, MessageHandler(private & ~filters.UpdateType.EDITED,
                                       common.not_understood)),
    ]


@dataclass(frozen=True)
class BotApiEndpoint:
    """Where the Bot API lives: Telegram, a self-hosted server, or the local one."""

    root_url: str
    token: str

    @property
    def base_url(self) -> str:
        return f"{self.root_url.rstrip('/')}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.root_url.rstrip('/')}/file/bot"


@dataclass
class Runtime:
    """Everything one bot process runs, built by :func:`build_runtime`."""

    services: Services
    engine: AsyncEngine
    application: Application  # type: ignore[type-arg]
    processor: ChatOrderedUpdateProcessor
    delivery: DeliveryService
    retention: RetentionService
    # The outbox sends through a Bot of its own, paced apart from the replies.
    outbox_bot: Bot
    # What the start leaves running beside the bot (the command menus); stopped at shutdown.
    background: list[asyncio.Task[None]]


def build_runtime(
    settings: Settings,
    endpoint: BotApiEndpoint,
    *,
    database_url: str,
    clock: Clock | None = None,
    delivery_config: DeliveryConfig | None = None,
    scheduled: bool = True,
    timing: Timing | None = None,
) -> Runtime:
    """Wire one process. ``scheduled=False`` leaves the outbox and retention jobs to the
    caller (tests drive ``runtime.delivery.run_once()`` on a frozen clock); ``timing`` is the
    clock the flood guard and the replies' 429 waits run on (real time unless a sandbox)."""
    timing = timing or Timing()
    engine = create_engine(database_url)
    delivery_config = replace(
        delivery_config or DeliveryConfig(send_rate_per_second=settings.send_rate_per_second),
        briefing_before=timedelta(minutes=settings.briefing_minutes_before),
    )
    services = Services(
        settings=settings,
        sessions=TurnSessions(engine),
        catalogs=Catalogs.load(),
        clock=clock or SystemClock(),
        delivery=delivery_config,
    )
    http = TelegramHttp.for_api(endpoint.root_url)
    outbox_bot = make_bot(endpoint.token, endpoint.base_url, endpoint.base_file_url,
                          connections=delivery_config.concurrency, http=http)
    # Replies and the outbox share Telegram's rate; the outbox takes what replies leave.
    budget = SendBudget(delivery_config.send_rate_per_second or TELEGRAM_MESSAGES_PER_SECOND)
    delivery = DeliveryService.build(
        sessions=services.sessions, catalogs=services.catalogs, clock=services.clock,
        sender=PtbSender(outbox_bot), default_locale=settings.default_locale,
        config=delivery_config, budget=budget,
    )
    retention = RetentionService(
        services.sessions, services.clock, services.throttle_secret,
        retention=timedelta(days=settings.retention_days),
    )

    background: list[asyncio.Task[None]] = []
    drawing = Drawing()

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        # The first getUpdates goes out without waiting for Telegram to take the menus.
        background.append(asyncio.create_task(register_menus_in_background(
            application.bot, services.catalogs, settings.default_locale)))
        if scheduled:
            delivery.start()
            retention.start()

    async def post_shutdown(_: Application) -> None:  # type: ignore[type-arg]
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await retention.stop()
        await delivery.stop()
        await outbox_bot.shutdown()
        await drawing.close()
        await engine.dispose()

    processor = ChatOrderedUpdateProcessor(flood=FloodGuard(
        settings.flood_max_updates, settings.flood_window_seconds, timing))
    application = (
        Application.builder()
        .token(endpoint.token)
        .base_url(endpoint.base_url)
        .base_file_url(endpoint.base_file_url)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .request(http.request(REPLY_CONNECTIONS))
        .get_updates_request(http.request(UPDATE_CONNECTIONS))
        .concurrent_updates(processor)
        # Replies go first within the shared budget, and wait out a 429 up to a staleness.
        .rate_limiter(ReplyLimiter(max_wait=settings.reply_max_wait_seconds,
                                   overall=budget.limiter, timing=timing))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data.services = services
    for group, handler in handler_table():
        handler.callback = repeatable(handler.callback)
        application.add_handler(handler, group=group)
    application.bot_data.known_commands = robustness.known_commands(application)
    application.bot_data.drawing = drawing
    application.add_error_handler(errors.on_error)  # type: ignore[arg-type]
    return Runtime(services, engine, application, processor, delivery, retention, outbox_bot,
                   background)
