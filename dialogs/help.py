"""The welcome and /help screens."""

from __future__ import annotations

from dialogs.safety import COUNTRY_NAMES, EMERGENCY_NUMBERS
from dialogs.screen import Screen
from locales.i18n import Tr


def emergency_lines(tr: Tr) -> str:
    blocks = []
    for country, lines in EMERGENCY_NUMBERS.items():
        rows = "\n".join(f"• {tr._(line.label)}: <b>{line.number}</b>" for line in lines)
        blocks.append(f"{tr._(COUNTRY_NAMES[country])}\n{rows}")
    return "\n\n".join(blocks)


def help_screen(tr: Tr) -> Screen:
    text = "\n\n".join(
        (
            tr._("<b>Help</b>"),
            tr._(
                "I guide you through the six course modules, remind you of each webinar "
                "and ask you short questions about how you are doing."
            ),
            tr._(
                "/course – the modules and webinar dates\n"
                "/progress – your progress as a picture\n"
                "/plan – make a small plan for the week\n"
                "/settings – language, reminders, quiet hours, name\n"
                "/mydata – get a copy of your data\n"
                "/delete – delete your data\n"
                "/help – this help"
            ),
            tr._("Questions about the course? Write to your instructor in the webinar chat."),
            tr._("<b>If you need help now</b>"),
            emergency_lines(tr),
        )
    )
    return Screen.of(text)


def welcome_screen(tr: Tr) -> Screen:
    return Screen.of(
        "\n\n".join(
            (
                tr._("Welcome! I am the companion bot for the coping course."),
                tr._(
                    "To join a team, open the invite link you got from your municipality. "
                    "It starts me with your team's code."
                ),
                tr._("Type /help to see what I can do."),
            )
        )
    )


def welcome_back_screen(tr: Tr, display_name: str | None) -> Screen:
    if display_name:
        text = tr._("Welcome back, {name}.", name=display_name)
    else:
        text = tr._("Welcome back.")
    return Screen.of(text + "\n\n" + tr._("Type /help to see what I can do."))


def not_understood_screen(tr: Tr) -> Screen:
    return Screen.of(
        tr._("Sorry, I did not understand that. Type /help to see what I can do.")
    )
