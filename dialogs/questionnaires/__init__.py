"""Questionnaires as validated data files: the weekly check-in and the evaluation.

- ``model``: the file format (pydantic, frozen); ``loader``: TOML files → models.
- ``engine``: next item, parsing answers, scoring, the safety threshold (pure).
- ``screens``: what a person sees; ``service``: answering, on an AsyncSession.

See docs/questionnaires.md for the data format.
"""

from __future__ import annotations

from dialogs.questionnaires.loader import (
    DATA_DIR,
    QuestionnaireError,
    load_questionnaire,
    load_questionnaires,
)
from dialogs.questionnaires.model import (
    ChoiceItem,
    Item,
    Option,
    Questionnaire,
    ScaleItem,
    Score,
    TextItem,
    Words,
    YesNoItem,
)

__all__ = [
    "DATA_DIR",
    "ChoiceItem",
    "Item",
    "Option",
    "Questionnaire",
    "QuestionnaireError",
    "ScaleItem",
    "Score",
    "TextItem",
    "Words",
    "YesNoItem",
    "load_questionnaire",
    "load_questionnaires",
]
