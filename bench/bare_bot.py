"""The floor for bench/updates.py and bench/planner.py: a bare python-telegram-bot bot.

It answers what the benchmark sends mestring — /course with six module buttons, a module
button by editing the message, /help — with texts of the same size, and knows nothing else: no
database, no translations, no outbox. PTB's defaults otherwise (long polling). Imports only
``telegram``, so its start-up time and memory are PTB's own.

    python bench/bare_bot.py API_ROOT TOKEN
"""

from __future__ import annotations

import sys

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

COURSE = "<b>Forløbet</b>\n\n" + "\n\n".join(
    f"● {n}. Modul om at mestre hverdagen – åben\n    Webinar: torsdag 7. januar kl. 19.00"
    for n in range(1, 7))
STEP = ("<b>Modul 1 · trin 1 af 3</b>\n\nLæs om hvordan krop og sind hænger sammen, og skriv "
        "ned hvad du lægger mærke til i løbet af ugen. Det tager omkring ti minutter.")
HELP = ("<b>Hjælp</b>\n\n/course – forløbet og dine moduler\n/progress – din fremgang\n"
        "/plan – din ugeplan\n/settings – sprog, pause og stille timer\n/mydata – dine data\n"
        "/delete – slet dine data\n\nAkut hjælp: ring 112. Lægevagten: 1813.")


def _modules() -> InlineKeyboardMarkup:
    buttons = [InlineKeyboardButton(f"Modul {n}", callback_data=f"v1:ms:{n}:0")
               for n in range(1, 7)]
    return InlineKeyboardMarkup([buttons[i:i + 2] for i in range(0, 6, 2)])


def _steps() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Næste", callback_data="v1:ms:1:1")],
                                 [InlineKeyboardButton("Færdig", callback_data="v1:md:1")]])


async def course(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(COURSE, parse_mode=ParseMode.HTML,
                                              reply_markup=_modules())


async def step(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(STEP, parse_mode=ParseMode.HTML, reply_markup=_steps())


async def help_(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(HELP, parse_mode=ParseMode.HTML)


def main() -> None:
    root, token = sys.argv[1:3]
    application = (Application.builder().token(token).base_url(f"{root}/bot")
                   .base_file_url(f"{root}/file/bot").build())
    application.add_handler(CommandHandler("course", course))
    application.add_handler(CommandHandler("help", help_))
    application.add_handler(CallbackQueryHandler(step))
    application.run_polling(allowed_updates=Update.ALL_TYPES)


if __name__ == "__main__":
    main()
