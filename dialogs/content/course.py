"""The six course modules as validated data.

The words live in ``course.toml`` next to this file, so the course team edits words without
touching code. Every text is an English gettext message id: ``bot.cli.catalogs.extract`` reads
this file (through :func:`translatable_strings`), translators get the words in the usual
catalogs, and a screen shows a text to its reader as ``tr._(text)``.

Loading validates the whole file, so a mistake stops the start and the tests instead of a
participant's conversation. What is checked, and why:

* modules 1 to 6, in order: the schedule and the "module N" buttons rely on the numbers;
* every text non-empty, without spaces at either end (they would become part of the msgid);
* plain text: no HTML (the screen adds formatting and escapes) and no ``{placeholders}`` or
  stray braces, because names, dates and links are put in by the screen, formatted by Babel
  in the reader's locale. :data:`ALLOWED_PLACEHOLDERS` is the one place to widen this, together
  with the screen that then must pass those values for every text;
* word limits per field (:data:`WORD_LIMITS`; a step at most :data:`MAX_STEP_WORDS`): our
  readers are often tired, and a step is one idea in one message;
* 2–4 steps per module, and an http(s) e-learning link.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    field_validator,
)

from dialogs.readability import count_words
from locales.i18n import placeholders

COURSE_PATH = Path(__file__).with_name("course.toml")
# Where translators are pointed to, relative to the project root.
COURSE_LOCATION = "dialogs/content/course.toml"

MODULE_COUNT = 6
MAX_STEP_WORDS = 80
WORD_LIMITS: dict[str, int] = {
    "title": 8,
    "about": 40,
    "prepare": 50,
    "tool name": 6,
    "tool summary": 30,
    "step": MAX_STEP_WORDS,
}
# None: the screens translate content with tr._(text) and no values (see the docstring).
ALLOWED_PLACEHOLDERS: frozenset[str] = frozenset()

_BRACES = re.compile(r"[{}]")
_HTML = re.compile(r"[<>]")


class CourseError(ValueError):
    """The course file cannot be read or is not valid; the message says where and why."""


def _text_rule(kind: str) -> AfterValidator:
    limit = WORD_LIMITS[kind]

    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"the {kind} is empty")
        if value != value.strip():
            raise ValueError(f"the {kind} has spaces at the start or end")
        unknown = placeholders(value) - ALLOWED_PLACEHOLDERS
        if unknown:
            names = ", ".join("{" + name + "}" for name in sorted(unknown))
            allowed = ", ".join(sorted(ALLOWED_PLACEHOLDERS)) or "none"
            raise ValueError(
                f"the {kind} has the placeholder {names}; allowed placeholders: {allowed} "
                "(the screen adds names, dates and links)"
            )
        if _BRACES.search(_strip_allowed(value)):
            raise ValueError(f"the {kind} has a stray {{ or }}")
        if _HTML.search(value):
            raise ValueError(f"the {kind} has < or >: write plain text, the screen formats it")
        words = count_words(value)
        if words > limit:
            raise ValueError(f"the {kind} has {words} words; at most {limit}")
        return value

    return AfterValidator(check)


def _strip_allowed(value: str) -> str:
    for name in ALLOWED_PLACEHOLDERS:
        value = value.replace("{" + name + "}", "")
    return value


Title = Annotated[str, _text_rule("title")]
About = Annotated[str, _text_rule("about")]
Prepare = Annotated[str, _text_rule("prepare")]
ToolName = Annotated[str, _text_rule("tool name")]
ToolSummary = Annotated[str, _text_rule("tool summary")]
Step = Annotated[str, _text_rule("step")]


class _Frozen(BaseModel):
    # extra="forbid": a misspelt key ("tittle") is an error, not a silently missing text.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Tool(_Frozen):
    """The key coping tool of the week: a short name and one sentence."""

    name: ToolName
    summary: ToolSummary


class Module(_Frozen):
    number: StrictInt  # not "1" or 1.0: a number written as text is a slip worth seeing
    title: Title
    about: About  # what it is about and why it matters
    prepare: Prepare  # what to do before the webinar
    tool: Tool
    elearning_url: str
    # Shown one at a time with a "Next" button: one idea per message.
    steps: tuple[Step, ...] = Field(min_length=2, max_length=4)

    @field_validator("elearning_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            raise ValueError(f"{value!r} is not an http(s) link")
        return value

    def texts(self) -> tuple[str, ...]:
        """Every message id of the module, in reading order."""
        return (
            self.title,
            self.about,
            self.prepare,
            self.tool.name,
            self.tool.summary,
            *self.steps,
        )


class Course(_Frozen):
    modules: tuple[Module, ...]

    @field_validator("modules")
    @classmethod
    def _one_to_six(cls, modules: tuple[Module, ...]) -> tuple[Module, ...]:
        numbers = [module.number for module in modules]
        expected = list(range(1, MODULE_COUNT + 1))
        if numbers != expected:
            raise ValueError(
                f"the modules must be numbered {expected} in this order; found {numbers}"
            )
        return modules

    def module(self, number: int) -> Module:
        if not 1 <= number <= len(self.modules):
            raise KeyError(f"no module {number}")
        return self.modules[number - 1]

    def texts(self) -> Iterator[str]:
        """Every message id of the course, in reading order (repeats included)."""
        for module in self.modules:
            yield from module.texts()


def load_course(path: Path | None = None) -> Course:
    """Read and validate the course file; raise :class:`CourseError` saying what is wrong."""
    path = path or COURSE_PATH
    data = _read_toml(path)
    try:
        return Course.model_validate(data)
    except ValidationError as error:
        raise CourseError(f"{path}: the course is not valid:\n{_explain(error)}") from None


def _read_toml(path: Path) -> dict[str, object]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise CourseError(f"{path}: the course file is missing") from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{path}: not valid TOML: {error}") from None


def _explain(error: ValidationError) -> str:
    """One line per problem, with 1-based positions as a writer counts them."""
    lines = []
    for problem in error.errors():
        where = []
        loc = list(problem["loc"])
        for index, part in enumerate(loc):
            if isinstance(part, int):
                continue
            if index + 1 < len(loc) and isinstance(loc[index + 1], int):
                where.append(f"{part} #{loc[index + 1] + 1}")
            else:
                where.append(str(part))
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"  {' → '.join(where) or 'course'}: {message}")
    return "\n".join(lines)


def translatable_strings(
    path: Path | None = None, location: str = COURSE_LOCATION
) -> list[tuple[str, str, int]]:
    """``(msgid, file, line)`` for every text of the course, for the translation template.

    ``line`` is where the text starts in the file, or 0 where it cannot be found (a text
    written in an unusual way): translators are then pointed to the file only.
    """
    path = path or COURSE_PATH
    course = load_course(path)
    lines = _string_lines(path.read_text(encoding="utf-8"))
    seen: set[str] = set()
    found: list[tuple[str, str, int]] = []
    for text in course.texts():
        if text not in seen:
            seen.add(text)
            found.append((text, location, lines.get(text, 0)))
    return found


# A bare or dotted key (``tool.name =``); a quoted key only costs the line number.
_KEY = re.compile(r"^\s*[A-Za-z0-9_.\-]+\s*=\s*")


def _string_lines(source: str) -> dict[str, int]:
    """Map each string value in a TOML text to the line it starts on.

    tomllib does not report positions, so each line that starts a string value (after a
    ``key =`` or as an array item) is parsed on its own, together with the lines that follow
    until the value is complete (for multi-line strings).
    """
    rows = source.splitlines()
    starts: dict[str, int] = {}
    for index, row in enumerate(rows):
        value = _KEY.sub("", row, count=1).lstrip() if _KEY.match(row) else row.lstrip()
        if not value.startswith(('"', "'")):
            continue
        for end in range(index, min(index + 40, len(rows))):
            snippet = "\n".join([value, *rows[index + 1 : end + 1]])
            try:
                # An array tolerates the trailing comma of an array item; the line breaks
                # keep a trailing comment from swallowing the closing bracket.
                parsed = tomllib.loads(f"v = [\n{snippet}\n]")["v"]
            except tomllib.TOMLDecodeError:
                continue
            if len(parsed) == 1 and isinstance(parsed[0], str):
                starts.setdefault(parsed[0], index + 1)
            break
    return starts
