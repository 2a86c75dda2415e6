"""Choosing the language the bot speaks to a person."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.callbacks import Action, callback, one_of
from dialogs.screen import Button, Screen
from locales.i18n import SUPPORTED_LOCALES, Tr, language_name
from storage import queries

# Each language is offered in its own name, so a reader finds theirs whatever is shown now.
LANGUAGE_NAMES: dict[str, str] = {code: language_name(code) for code in SUPPORTED_LOCALES}

ACTION = Action("lang", one_of(*SUPPORTED_LOCALES))  # lang:<locale>


def language_screen(tr: Tr) -> Screen:
    buttons = [
        Button(("✓ " if code == tr.locale else "") + LANGUAGE_NAMES[code], callback(ACTION, code))
        for code in SUPPORTED_LOCALES
    ]
    return Screen.of(tr._("Which language should I use?"), buttons)


def language_chosen_screen(tr: Tr, *, remembered: bool) -> Screen:
    if remembered:
        return Screen.of(tr._("I will write to you in English from now on."))
    return Screen.of(
        tr._("I will write to you in English. I will remember it when you join a team.")
    )


async def choose_language(
    sessions: async_sessionmaker[AsyncSession], telegram_user_id: int, locale: str
) -> bool:
    """Remember a known person's language; return whether it was stored.

    Nothing is stored about somebody who has not consented yet: their choice applies to the
    answer they see now, and onboarding records it together with their consent.
    """
    if locale not in SUPPORTED_LOCALES:
        raise ValueError(f"unsupported locale {locale!r}")
    async with sessions.begin() as session:
        person = await queries.get_person_by_telegram_id(session, telegram_user_id)
        if person is None:
            return False
        person.locale = locale
        return True
