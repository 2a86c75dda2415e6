"""The ``mestring`` command line (typer): ``main`` is the console script."""

from __future__ import annotations

from bot.cli.main import app, main

__all__ = ["app", "main"]
