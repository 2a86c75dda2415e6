"""The ``mestring`` command line (typer): ``main`` is the console script."""

from __future__ import annotations

from bot.quiet_gc import without_gc

with without_gc():  # every command's imports: see bot/quiet_gc.py
    from bot.cli.main import app, main

__all__ = ["app", "main"]
