from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.sandbox import Sandbox, open_sandbox
from bot.settings import Settings
from storage.clock import FrozenClock
from tests.figures import FIGURES

pytest_plugins = ["tests.fixtures.postgres"]


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Default settings, untouched by any MESTRING_ variable of the machine running tests."""
    for key in list(os.environ):
        if key.startswith("MESTRING_"):
            monkeypatch.delenv(key)
    return Settings(data_dir=tmp_path)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def sandbox(settings: Settings, clock: FrozenClock, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The real bot on a fresh SQLite file against the local Bot API, on a frozen clock."""
    async with open_sandbox(
        settings=settings, database_url=f"sqlite:///{tmp_path / 'sandbox.sqlite3'}", clock=clock
    ) as running:
        yield running

_BACKEND = re.compile(r"\[(?:[^\]]*-)?(sqlite|postgresql)(?:-[^\]]*)?\]")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many database tests ran on each backend, so CI output shows both did, and
    show the figures tests measured."""
    if FIGURES:
        terminalreporter.section("measured by the tests")
        for line in FIGURES:
            terminalreporter.write_line(line)
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            match = _BACKEND.search(getattr(report, "nodeid", ""))
            if match and (report.when == "call" or outcome != "passed"):
                counts[(match.group(1), outcome)] += 1
    if not counts:
        return
    terminalreporter.section("database backends")
    for backend in ("sqlite", "postgresql"):
        line = ", ".join(
            f"{counts[(backend, outcome)]} {outcome}"
            for outcome in ("passed", "failed", "skipped", "error")
            if counts[(backend, outcome)] or outcome in ("passed", "skipped")
        )
        terminalreporter.write_line(f"{backend}: {line}")
