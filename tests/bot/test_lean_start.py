"""The bot starts without the libraries only some paths need: they cost start-up time and memory
in every worker, and are imported where they are used (exports, migrations, the webhook
server, holiday calendars)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPORT_ONLY = ("xlsxwriter", "openpyxl", "numpy", "matplotlib", "pandas", "pyreadstat",
               "dialogs.exports.run", "dialogs.exports.datasets", "dialogs.exports.writers")
# Alembic only when the database is behind; aiohttp only for --webhook; holidays only when a
# team is planned; PostgreSQL's dialect only when the database is PostgreSQL; QR codes only
# when an invite is made; Babel's catalog tools only when a catalog must be compiled; the
# coordinator and export commands only when one of them is run (bot/cli/main.py, LATER).
ELSEWHERE = ("alembic", "mako", "aiohttp", "holidays", "sqlalchemy.dialects.postgresql",
             "segno", "babel.messages.pofile", "bot.cli.coordinator", "bot.cli.export")


def _loaded_at_start(modules: tuple[str, ...]) -> str:
    # As `mestring run` does: typer builds the command line, then the worker is wired.
    probe = ("import sys, typer.main, bot.runner, bot.app, bot.cli, locales.i18n; "
             "typer.main.get_command(bot.cli.app); locales.i18n.Catalogs.load(); "
             f"print(','.join(m for m in {modules!r} if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_starting_the_bot_imports_no_export_library() -> None:
    assert _loaded_at_start(EXPORT_ONLY) == ""


def test_starting_the_bot_imports_nothing_only_some_paths_need() -> None:
    assert _loaded_at_start(ELSEWHERE) == ""


def test_the_command_line_leaves_the_garbage_collector_on() -> None:
    """The imports run without it (bot/collector.py); every command after them, an export of a
    million rows included, runs with it."""
    probe = "import gc, bot.cli; print(gc.isenabled())"
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                            capture_output=True, text=True)
    assert result.stdout.strip() == "True"
