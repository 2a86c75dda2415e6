"""What every command shares: one way to fail and one way to read the settings."""

from __future__ import annotations

from typing import NoReturn

import typer

from bot.settings import Settings, SettingsError, load_settings


def fail(message: str, code: int = 2) -> NoReturn:
    """Stop with one line on stderr, the way a bad setting stops the program."""
    typer.echo(f"mestring: {message}", err=True)
    raise typer.Exit(code)


def settings_or_exit(**overrides: object) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        fail(str(exc))
