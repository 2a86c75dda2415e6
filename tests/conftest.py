from __future__ import annotations

import re
from collections import Counter

import pytest

pytest_plugins = ["tests.fixtures.postgres"]

_BACKEND = re.compile(r"\[(?:[^\]]*-)?(sqlite|postgresql)(?:-[^\]]*)?\]")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many database tests ran on each backend, so CI output shows both did."""
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
