"""The bot starts without the libraries only research exports need: they cost start-up time
and memory in every worker, and are imported where an export runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXPORT_ONLY = ("xlsxwriter", "openpyxl", "numpy", "matplotlib", "pandas", "pyreadstat")


def test_starting_the_bot_imports_no_export_library() -> None:
    probe = ("import sys, bot.runner, bot.app, bot.cli.main; "
             f"print(','.join(m for m in {EXPORT_ONLY!r} if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout.strip()
    assert loaded == ""
