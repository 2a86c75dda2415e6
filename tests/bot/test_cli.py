"""The ``mestring`` command as an operator runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

MESTRING = shutil.which("mestring", path=str(Path(sys.executable).parent)) or "mestring"


def run(
    args: list[str], cwd: Path, *, stdin: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESTRING_")}
    return subprocess.run(
        [MESTRING, *args], cwd=cwd, env={**clean, **env}, input=stdin, capture_output=True,
        text=True, timeout=120, check=False,
    )


def test_the_help_lists_every_command_and_a_misspelt_one_is_suggested(tmp_path: Path) -> None:
    """The coordinator and export commands are built only when named (bot/cli/main.py): the
    help and typer's suggestions still know them."""
    listed = run(["--help"], tmp_path)
    assert listed.returncode == 0
    for command in ("run", "demo", "db", "i18n", "team", "invite", "coordinator", "export"):
        assert f" {command} " in listed.stdout, command
    assert "Teams and their webinars." in listed.stdout
    misspelt = run(["invit"], tmp_path)
    assert misspelt.returncode == 2
    assert "Did you mean 'invite'?" in misspelt.stdout + misspelt.stderr
    team = run(["team", "--help"], tmp_path)
    assert "Create a team with six weekly webinars" in team.stdout


def test_run_without_a_token_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(["run"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("mestring: MESTRING_TELEGRAM_TOKEN is not set")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_run_without_a_secret_key_says_how_to_make_one(tmp_path: Path) -> None:
    result = run(["run"], tmp_path, MESTRING_TELEGRAM_TOKEN="123:abc")
    assert result.returncode == 2
    assert result.stderr.startswith("mestring: MESTRING_SECRET_KEY is not set")
    assert "secrets.token_urlsafe" in result.stderr
    assert result.stderr.count("\n") == 1


def test_a_malformed_database_url_is_named(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path, MESTRING_DATABASE_URL="sqlite//oops")
    assert result.returncode == 2
    assert result.stderr.startswith("mestring: MESTRING_DATABASE_URL is not a database URL")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stdout + result.stderr


def test_a_bad_token_is_not_echoed(tmp_path: Path) -> None:
    result = run(["run"], tmp_path, MESTRING_TELEGRAM_TOKEN="secret-but-malformed")
    assert result.returncode == 2
    assert "MESTRING_TELEGRAM_TOKEN" in result.stderr
    assert "secret-but-malformed" not in result.stdout + result.stderr


def test_db_upgrade_creates_an_owner_only_sqlite_file(tmp_path: Path) -> None:
    result = run(["db", "upgrade"], tmp_path)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "data" / "mestring.sqlite3"
    assert database.is_file()
    assert database.stat().st_mode & 0o777 == 0o600
    again = run(["db", "upgrade"], tmp_path)
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("command", [["i18n", "check"]])
def test_the_translation_check_passes_on_the_shipped_catalogs(
    tmp_path: Path, command: list[str]
) -> None:
    result = run(command, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "catalogs complete" in result.stdout


def test_run_against_an_unreachable_bot_api_says_so_in_one_line(tmp_path: Path) -> None:
    result = run(["run"], tmp_path, MESTRING_TELEGRAM_TOKEN="123:secret-token",
                 MESTRING_TELEGRAM_API_URL="http://127.0.0.1:9", MESTRING_SECRET_KEY="k" * 32)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1].startswith(
        "mestring: MESTRING_TELEGRAM_API_URL http://127.0.0.1:9 cannot be reached"
    )
    assert "Traceback" not in result.stderr
    assert "secret-token" not in result.stdout + result.stderr


def test_the_local_bot_api_listens_on_the_port_it_is_given(tmp_path: Path) -> None:
    import socket
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "bot.local_api", "--port", str(port)],
        stdout=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == f"LOCAL_BOT_API_URL=http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.postgres
@pytest.mark.parametrize("scheme", ["postgres", "postgresql+psycopg2"],
                         ids=["heroku_style_scheme", "psycopg2_driver"])
def test_postgres_urls_work_as_operators_write_them(
    tmp_path: Path, postgres_cluster: object, scheme: str
) -> None:
    from tests.fixtures.postgres import PostgresCluster

    assert isinstance(postgres_cluster, PostgresCluster)
    database = f"cli_{scheme.replace('+', '_')}"
    postgres_cluster.execute(f"CREATE DATABASE {database}")
    url = postgres_cluster.url(database).replace("postgresql://", f"{scheme}://", 1)
    result = run(["db", "upgrade"], tmp_path, MESTRING_DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout
