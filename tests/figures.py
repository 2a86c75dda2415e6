"""Figures tests measure (crash, faults, workers, fuzz), shown at the end of every run.

pytest hides what a passing test prints; these lines are written by the terminal summary in
tests/conftest.py instead, so CI output carries them.
"""

from __future__ import annotations

FIGURES: list[str] = []


def record_figure(line: str) -> None:
    FIGURES.append(line.strip())
