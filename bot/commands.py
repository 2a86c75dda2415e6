"""The command menu Telegram shows, registered once per language."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError

from locales.i18n import N_, SUPPORTED_LOCALES, Catalogs, telegram_locale


@dataclass(frozen=True)
class MenuCommand:
    command: str
    description: str  # gettext message id, at most 256 characters translated


PARTICIPANT_MENU: tuple[MenuCommand, ...] = (
    MenuCommand("start", N_("Start or go back to the start")),
    MenuCommand("course", N_("The modules and webinar dates")),
    MenuCommand("calendar", N_("The webinars for your phone's calendar")),
    MenuCommand("progress", N_("Your progress as a picture")),
    MenuCommand("summary", N_("A page about your course for your doctor")),
    MenuCommand("plan", N_("Make a small plan for the week")),
    MenuCommand("settings", N_("Language, reminders, quiet hours, name")),
    MenuCommand("mydata", N_("Get a copy of your data")),
    MenuCommand("delete", N_("Delete your data")),
    MenuCommand("help", N_("What I can do, and help numbers")),
    MenuCommand("language", N_("Choose language")),
)

# Telegram picks the list by the app's language; Norwegian apps may report "nb" or "no".
MENU_LANGUAGE_CODES: tuple[str, ...] = (*SUPPORTED_LOCALES, "no")


def menu_for(catalogs: Catalogs, locale: str) -> list[BotCommand]:
    tr = catalogs.tr(locale)
    return [BotCommand(c.command, tr._(c.description)) for c in PARTICIPANT_MENU]


log = logging.getLogger(__name__)


async def register_menus(bot: Bot, catalogs: Catalogs, default_locale: str) -> None:
    scope = BotCommandScopeAllPrivateChats()
    # At once rather than one after another: they are independent.
    await asyncio.gather(
        bot.set_my_commands(menu_for(catalogs, default_locale), scope=scope),
        *(bot.set_my_commands(menu_for(catalogs, telegram_locale(code) or default_locale),
                              scope=scope, language_code=code)
          for code in MENU_LANGUAGE_CODES),
    )


async def register_menus_in_background(
    bot: Bot, catalogs: Catalogs, default_locale: str
) -> None:
    """``register_menus`` while the bot already answers: nobody's first message waits for
    these calls to Telegram, and when they fail the bot answers all the same (the menu only
    lists commands it understands typed); the next start sets it again."""
    try:
        await register_menus(bot, catalogs, default_locale)
    except TelegramError as exc:
        log.warning("command menus not set: %s", type(exc).__name__)


COORDINATOR_MENU: tuple[MenuCommand, ...] = (
    MenuCommand("teams", N_("Your teams: summaries and invite links")),
    MenuCommand("newteam", N_("Create a team with its six webinars")),
    MenuCommand("failures", N_("Messages that could not be delivered")),
    MenuCommand("export", N_("Pseudonymised data for research")),
)
INSTRUCTOR_MENU: tuple[MenuCommand, ...] = (
    MenuCommand("team", N_("Your team and how it is going")),
    MenuCommand("broadcast", N_("Write to the whole team")),
    MenuCommand("sessions", N_("Move or cancel a webinar")),
    MenuCommand("attendance", N_("Mark who attended a webinar")),
)


async def register_staff_menu(
    bot: Bot, catalogs: Catalogs, chat_id: int, locale: str, *,
    coordinator: bool = False, instructor: bool = False,
) -> None:
    """Staff see their own commands in their own chat only; nobody else's menu shows them."""
    tr = catalogs.tr(locale)
    menu = [
        *(INSTRUCTOR_MENU if instructor else ()),
        *(COORDINATOR_MENU if coordinator else ()),
        *PARTICIPANT_MENU,
    ]
    await bot.set_my_commands(
        [BotCommand(c.command, tr._(c.description)) for c in menu],
        scope=BotCommandScopeChat(chat_id),
    )
