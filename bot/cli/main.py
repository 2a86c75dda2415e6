"""The ``mestring`` command line: the root command and its sub-commands, wired in one place."""

from __future__ import annotations

import asyncio
import importlib
import sys
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

from bot.cli.common import fail, settings_or_exit
from bot.settings import SettingsError

# An operator's occasional work, by command name: the module and the Typer app or function. They
# are imported, and typer builds their ~20 commands, only when one of them is named or the help
# lists them, so that `mestring run` starts a worker without them (tests/bot/test_lean_start.py).
LATER = {
    "team": ("bot.cli.coordinator", "team_app"),
    "invite": ("bot.cli.coordinator", "invite_app"),
    "coordinator": ("bot.cli.coordinator", "coordinator_app"),
    "export": ("bot.cli.export", "export"),
}
Command = TyperCommand | TyperGroup


class _CommandsLater(MutableMapping[str, Command]):
    """The root group's commands: those built already, and LATER's, built when first looked up
    (so typer's help, its suggestions for a misspelt name and its parsing all see every one)."""

    def __init__(self, built: MutableMapping[str, Command]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built and name in LATER:
            self._built[name] = _build(name)
        return self._built[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._built, *(name for name in LATER if name not in self._built)])

    def __len__(self) -> int:
        return len(self._built.keys() | LATER.keys())


def _build(name: str) -> Command:
    module, attribute = LATER[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer()
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    command: Command = typer.main.get_group(holder).commands[name]  # type: ignore[assignment]
    return command


class _Root(TyperGroup):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.commands = _CommandsLater(self.commands)  # type: ignore[arg-type]


# Locals in a traceback could hold the bot token or a database password: never show them.
app = typer.Typer(
    cls=_Root, no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False,
    help="mestring — the companion bot of the coping course.",
)
db_app = typer.Typer(no_args_is_help=True, help="The database.")
i18n_app = typer.Typer(no_args_is_help=True, help="Translations: extract, update, check.")
app.add_typer(db_app, name="db")
app.add_typer(i18n_app, name="i18n")




@app.command()
def run(
    webhook: Annotated[bool, typer.Option(help="Receive updates by webhook (several workers).")]
    = False,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="Public HTTPS URL Telegram posts to; the proxy forwards it to "
                          "/telegram on this worker."),
    ] = None,
    listen: Annotated[str, typer.Option(help="Address the webhook server binds.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port the webhook server binds.")] = 8443,
) -> None:
    """Serve Telegram: long polling by default, or a webhook (needs MESTRING_WEBHOOK_SECRET)."""
    from bot.collector import without_gc

    with without_gc():
        from bot.runner import run_bot

    settings = settings_or_exit()
    if webhook and not webhook_url:
        fail("--webhook needs --webhook-url (the public HTTPS address Telegram posts to)")
    try:
        token = settings.require_token()
        settings.require_secret_key()
        if webhook:
            settings.require_webhook_secret()
        run_bot(settings, token, webhook_url=webhook_url if webhook else None, listen=listen,
                port=port)
    except SettingsError as exc:
        fail(str(exc))


@app.command()
def demo(
    script: Annotated[
        Path | None, typer.Option(help="Read the participant's lines from this file.")
    ] = None,
    keep: Annotated[bool, typer.Option(help="Keep the demo database from the last run.")] = False,
    newcomer: Annotated[
        bool, typer.Option(help="Start outside the team and join with /invite.")
    ] = False,
) -> None:
    """Try the bot here: no token, no network, you are a participant."""
    from bot import logs
    from bot.demo import demo_database, run_demo

    settings = settings_or_exit()
    logs.configure("WARNING")
    if script is not None and not script.is_file():
        fail(f"no such script file: {script}")
    try:
        asyncio.run(run_demo(
            settings, demo_database(settings, fresh=not keep), script=script, newcomer=newcomer
        ))
    except KeyboardInterrupt:
        typer.echo("")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done on every start)."""
    from storage.migrate import upgrade

    settings = settings_or_exit()
    upgrade(settings.resolved_database_url)
    typer.echo("database is up to date")


@i18n_app.command("update")
def i18n_update() -> None:
    """Extract messages from the code and merge them into every catalog."""
    from bot.cli import catalogs

    for locale, count in catalogs.update().items():
        typer.echo(f"{locale}: {count} to translate")


@i18n_app.command("check")
def i18n_check() -> None:
    """Fail on missing or fuzzy translations and mismatched placeholders."""
    from bot.cli import catalogs

    problems = catalogs.check()
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("catalogs complete")


@app.command("local-api")
def local_api(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8081,
) -> None:
    """Run the local Bot API server alone (for benchmarks and manual runs)."""
    from bot.local_api.__main__ import main as local_api_main

    sys.argv = ["mestring local-api", "--port", str(port)]
    local_api_main()


def main() -> None:
    app()
