"""Load questionnaire data files (TOML) into validated models, with errors a person can act on."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from dialogs.questionnaires.model import Questionnaire

DATA_DIR = Path(__file__).resolve().parent / "data"


class QuestionnaireError(ValueError):
    """A questionnaire file that cannot be used; the message names the file and the field."""


def load_questionnaire(path: Path) -> Questionnaire:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise QuestionnaireError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise QuestionnaireError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Questionnaire.model_validate(data)
    except ValidationError as exc:
        raise QuestionnaireError(f"{path}:\n{_describe(exc, data)}") from exc


def load_questionnaires(folder: Path = DATA_DIR) -> dict[str, Questionnaire]:
    """Every ``*.toml`` in `folder`, by questionnaire key (two files with one key is an error)."""
    found: dict[str, Questionnaire] = {}
    origin: dict[str, Path] = {}
    for path in sorted(folder.glob("*.toml")):
        questionnaire = load_questionnaire(path)
        if questionnaire.key in found:
            raise QuestionnaireError(
                f"{path}: key {questionnaire.key!r} is already used by {origin[questionnaire.key]}"
            )
        found[questionnaire.key] = questionnaire
        origin[questionnaire.key] = path
    return found


def message_ids(
    folder: Path = DATA_DIR, relative_to: Path | None = None
) -> Iterator[tuple[str, tuple[str, int], str]]:
    """(message id, (file, line), where) for every catalog-translated word in `folder`'s files.

    Inline wordings are left out on purpose: they are an evaluator's own licensed text.
    """
    for path in sorted(folder.glob("*.toml")):
        questionnaire = load_questionnaire(path)
        lines = path.read_text(encoding="utf-8").splitlines()
        name = str(path.relative_to(relative_to)) if relative_to else str(path)
        for where, words in questionnaire.words():
            if words.msgid is not None:
                yield (
                    words.msgid,
                    (name, _line_of(words.msgid, lines)),
                    (f"{questionnaire.key}: {where}"),
                )


def _line_of(text: str, lines: list[str]) -> int:
    # tomllib keeps no positions; a basic string is written JSON-like, which finds most.
    needle = json.dumps(text, ensure_ascii=False)[1:-1]
    for number, line in enumerate(lines, start=1):
        if needle in line or text in line:
            return number
    return 1


def _describe(exc: ValidationError, data: object) -> str:
    lines = []
    for error in exc.errors():
        loc = error["loc"]
        # Discriminated unions add the type name to the path; name the item by key instead.
        readable = []
        node: object = data
        for part in loc:
            if isinstance(part, int) and isinstance(node, list) and part < len(node):
                node = node[part]
                key = node.get("key") if isinstance(node, dict) else None
                readable[-1:] = [f"{readable[-1]}[{part}]" + (f" ({key!r})" if key else "")]
                continue
            if isinstance(node, dict) and part in node:
                node = node[part]
                readable.append(str(part))
            elif not readable or str(part) not in ("scale", "choice", "yesno", "text"):
                readable.append(str(part))
        where = ".".join(readable) or "file"
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"  {where}: {message}")
    return "\n".join(lines)
