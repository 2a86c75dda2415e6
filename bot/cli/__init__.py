"""The ``mestring`` command line (typer): ``main`` is the console script."""

from __future__ import annotations

from bot.collector import without_gc

with without_gc():  # every command's imports: see bot/collector.py
    from bot.cli.main import app, main

__all__ = ["app", "main"]
