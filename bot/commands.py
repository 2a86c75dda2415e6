"""The command menu Telegram shows, registered once per language."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeAllPrivateChats

from bot.i18n import N_, Catalogs, telegram_locale


@dataclass(frozen=True)
class MenuCommand:
    command: str
    description: str  # gettext message id, at most 256 characters translated


PARTICIPANT_MENU: tuple[MenuCommand, ...] = (
    MenuCommand("start", N_("Start or go back to the start")),
    MenuCommand("course", N_("The modules and webinar dates")),
    MenuCommand("progress", N_("Your progress as a picture")),
    MenuCommand("plan", N_("Make a small plan for the week")),
    MenuCommand("settings", N_("Language, reminders, quiet hours, name")),
    MenuCommand("help", N_("What I can do, and help numbers")),
    MenuCommand("language", N_("Choose language")),
)

# Telegram picks the list by the app's language; Norwegian apps may report "nb" or "no".
MENU_LANGUAGE_CODES: tuple[str, ...] = ("da", "nb", "no", "en")


def menu_for(catalogs: Catalogs, locale: str) -> list[BotCommand]:
    tr = catalogs.tr(locale)
    return [BotCommand(c.command, tr._(c.description)) for c in PARTICIPANT_MENU]


async def register_menus(bot: Bot, catalogs: Catalogs, default_locale: str) -> None:
    scope = BotCommandScopeAllPrivateChats()
    await bot.set_my_commands(menu_for(catalogs, default_locale), scope=scope)
    for code in MENU_LANGUAGE_CODES:
        locale = telegram_locale(code) or default_locale
        await bot.set_my_commands(menu_for(catalogs, locale), scope=scope, language_code=code)
