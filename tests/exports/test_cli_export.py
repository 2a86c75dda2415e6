"""``mestring export`` as an operator runs it."""

from __future__ import annotations

import asyncio
import getpass
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from sqlalchemy import select

from storage.engine import create_engine, create_sessionmaker
from storage.migrate import upgrade
from storage.models import AuditLog

from .files import all_text, read_csvs
from .world import World, build_world


def _command() -> list[str]:
    return [str(Path(sys.executable).parent / "mestring"), "export"]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MESTRING_")}
    return subprocess.run(
        [*_command(), *args], cwd=cwd, env={**clean, "PYTHONPATH": str(Path.cwd())},
        capture_output=True, text=True, timeout=120, check=False,
    )


def _world(tmp_path: Path) -> tuple[str, World]:
    url = f"sqlite:///{tmp_path / 'data' / 'mestring.sqlite3'}"
    upgrade(url)

    async def build() -> World:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine).begin() as session:
                return await build_world(session)
        finally:
            await engine.dispose()

    return url, asyncio.run(build())


def _audit(url: str) -> list[AuditLog]:
    async def read() -> list[AuditLog]:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                return list(await session.scalars(select(AuditLog).where(
                    AuditLog.action == "export")))
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_export_writes_files_a_zip_and_an_audit_row(tmp_path: Path) -> None:
    url, world = _world(tmp_path)
    result = run(["--municipality", "Køge", "--team", "Hold 3", "--from", "2027-01-01",
                  "--to", "2027-06-30", "--out", "exports", "--no-free-text"], tmp_path)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(": ", 1) for line in result.stdout.splitlines())
    folder, archive = tmp_path / lines["folder"], tmp_path / lines["zip"]
    assert zipfile.ZipFile(archive).testzip() is None
    hold_3 = [p for p in world.participants if p.team == "Hold 3"]
    assert lines["participants"] == f"{len(hold_3)} rows"
    tables = read_csvs(folder)
    assert {r["study_id"] for r in tables["participants"].rows} == {p.study_id for p in hold_3}
    text = all_text(folder, [archive])
    assert not [s for s in world.secrets if s in text]
    assert "datasets" in result.stderr  # the progress bars: the export, then each dataset
    for name in ("participants", "checkin_answers", "prompts", "mestring-export.xlsx",
                 "redcap"):
        assert name in result.stderr, name
    assert (folder / "responses_baseline_v1.sav").exists()
    (audit,) = _audit(url)
    assert audit.actor == f"cli:{getpass.getuser()}"
    assert audit.details["scope"]["free_text"] is False
    assert audit.details["scope"]["since"].startswith("2027-01-01T00:00:00+01:00")


def test_an_unknown_municipality_or_team_is_one_line_and_exit_2(tmp_path: Path) -> None:
    _world(tmp_path)
    for args, words in (
        (["--municipality", "Nowhere"], "no municipality called 'Nowhere'"),
        (["--municipality", "Køge", "--team", "Hold 1"], "no team called 'Hold 1'"),
        (["--municipality", "Køge", "--from", "2027-06-01", "--to", "2027-01-01"],
         "the start of the date range must be before its end"),
    ):
        result = run(args, tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith(f"mestring: {words}")
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    assert not (tmp_path / "exports").exists()
