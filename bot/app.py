"""The application factory: the one place where everything is wired together."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import actor, errors
from bot.commands import register_menus
from bot.context import BotContext, BotData, Services
from bot.delivery import handlers as delivery_handlers
from bot.handlers import common, coordinator, participant, questionnaire
from bot.handlers.instructor import INSTRUCTOR_GROUP, add_instructor_handlers
from bot.handlers.privacy import PRIVACY_GROUP, add_privacy_handlers
from bot.handlers.robustness import add_robustness_handlers
from bot.updates import ChatOrderedUpdateProcessor
from dialogs import action_plan, course, language, onboarding, settings
from dialogs.questionnaires import screens as questionnaire_screens

# Handler groups, in the order PTB runs them for each update.
GROUP_LOAD_ACTOR = -10
GROUP_DIALOGS = 0


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


def build_application(
    services: Services,
    endpoint: BotApiEndpoint,
    *,
    processor: ChatOrderedUpdateProcessor | None = None,
) -> Application:  # type: ignore[type-arg]
    application = (
        Application.builder()
        .token(endpoint.token)
        .base_url(endpoint.base_url)
        .base_file_url(endpoint.base_file_url)
        .context_types(ContextTypes(context=BotContext, bot_data=BotData))
        .concurrent_updates(processor or ChatOrderedUpdateProcessor())
        # Replies wait here only when Telegram says 429; bulk sending has its own pacing.
        .rate_limiter(AIORateLimiter(max_retries=2))
        .post_init(_post_init)
        .build()
    )
    application.bot_data.services = services
    add_handlers(application)
    application.add_error_handler(errors.on_error)  # type: ignore[arg-type]
    return application


def add_handlers(application: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    application.add_handler(TypeHandler(Update, actor.load_actor), group=GROUP_LOAD_ACTOR)
    # Groups, channels, inline queries, edits and unknown commands stop here (group -5);
    # data rights come before any dialog (group -1).
    add_robustness_handlers(application)
    # Instructor commands, buttons and their typed answers (group -3) stop the update there.
    add_instructor_handlers(application, group=INSTRUCTOR_GROUP)
    add_privacy_handlers(application, group=PRIVACY_GROUP)
    onboarding_steps = "|".join((
        onboarding.LANGUAGE, onboarding.ABOUT, onboarding.CONSENT_YES, onboarding.CONSENT_NO,
        onboarding.ADULT_YES, onboarding.ADULT_NO,
    ))
    for handler in (
        CommandHandler("start", participant.start, filters=private),
        CommandHandler("help", common.help_command, filters=private),
        CommandHandler("language", common.language_command, filters=private),
        CommandHandler("course", participant.course_command, filters=private),
        CommandHandler("progress", participant.progress_command, filters=private),
        CommandHandler("settings", participant.settings_command, filters=private),
        CommandHandler("plan", questionnaire.plan_command, filters=private),
        CommandHandler("teams", coordinator.teams_command, filters=private),
        CommandHandler("failures", coordinator.failures_command, filters=private),
        CommandHandler("export", coordinator.export_command, filters=private),
        CommandHandler("newteam", coordinator.new_team_command, filters=private),
        CallbackQueryHandler(common.language_chosen, pattern=rf"^v1:{language.ACTION}:"),
        CallbackQueryHandler(participant.onboarding_step, pattern=rf"^v1:({onboarding_steps}):"),
        CallbackQueryHandler(
            participant.name_button,
            pattern=rf"^v1:({onboarding.NAME_KEEP}|{onboarding.NAME_WRITE})$",
        ),
        CallbackQueryHandler(participant.module_step, pattern=rf"^v1:{course.STEP}:"),
        CallbackQueryHandler(participant.module_done, pattern=rf"^v1:{course.DONE}:"),
        CallbackQueryHandler(participant.settings_button, pattern=rf"^v1:{settings.ACTION}:"),
        CallbackQueryHandler(questionnaire.start_from_prompt, pattern=r"^v1:q:start:"),
        CallbackQueryHandler(
            questionnaire.tap,
            pattern=rf"^v1:({'|'.join(sorted(questionnaire_screens.ACTIONS))}):",
        ),
        CallbackQueryHandler(questionnaire.plan_button, pattern=rf"^v1:{action_plan.ACTION}:"),
        CallbackQueryHandler(delivery_handlers.not_now, pattern=delivery_handlers.LATER_PATTERN),
        CallbackQueryHandler(
            coordinator.button, pattern=rf"^v1:({'|'.join(coordinator.ACTIONS)})(:|$)"
        ),
        CallbackQueryHandler(coordinator.new_team_button, pattern=r"^v1:nt:"),
        CallbackQueryHandler(common.stale_button),
        MessageHandler(
            private & filters.TEXT & ~filters.COMMAND & ~filters.UpdateType.EDITED,
            participant.text_message,
        ),
        MessageHandler(private & ~filters.UpdateType.EDITED, common.not_understood),
    ):
        application.add_handler(handler, group=GROUP_DIALOGS)


async def _post_init(application: Application) -> None:  # type: ignore[type-arg]
    services: Services = application.bot_data.services
    await register_menus(application.bot, services.catalogs, services.settings.default_locale)
