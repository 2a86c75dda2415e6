"""Builders for questionnaire tests."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from dialogs.questionnaires.model import Questionnaire

FIXTURES = Path(__file__).parent / "fixtures"


def scale(key: str, lo: int = 0, hi: int = 10, **extra: Any) -> dict[str, Any]:
    return {"key": key, "type": "scale", "text": f"Item {key}", "min": lo, "max": hi,
            "min_label": "Low", "max_label": "High", **extra}  # fmt: skip


def questionnaire(items: list[dict[str, Any]], scores: list[dict[str, Any]] | None = None,
                  **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {"key": "t", "version": "1", "title": "T", "intro": "I", "items": items,
            "scores": scores or [], **extra}  # fmt: skip


def build(items: list[dict[str, Any]], scores: list[dict[str, Any]] | None = None) -> Questionnaire:
    return Questionnaire.model_validate(questionnaire(items, scores))


def from_toml(text: str) -> Questionnaire:
    return Questionnaire.model_validate(tomllib.loads(text))
