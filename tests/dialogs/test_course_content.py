"""The course content file: it loads, a broken one is refused clearly, and it is translated."""

from __future__ import annotations

import copy
import json
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from bot.cli import catalogs
from dialogs.content.course import (
    COURSE_LOCATION,
    COURSE_PATH,
    MAX_STEP_WORDS,
    Course,
    CourseError,
    load_course,
    translatable_strings,
)
from locales.i18n import SUPPORTED_LOCALES, Catalogs, po_path

Data = dict[str, Any]


def shipped() -> Data:
    with COURSE_PATH.open("rb") as fh:
        return tomllib.load(fh)


def to_toml(data: Data) -> str:
    """Write course data back as TOML (enough for these tests; JSON strings are TOML strings)."""
    blocks = []
    for module in data["modules"]:
        lines = ["[[modules]]"]
        for key, value in module.items():
            if isinstance(value, dict):
                lines += [f"{key}.{sub} = {json.dumps(v, ensure_ascii=False)}"
                          for sub, v in value.items()]
            elif isinstance(value, list):
                lines += [f"{key} = ["]
                lines += [f"  {json.dumps(v, ensure_ascii=False)}," for v in value]
                lines += ["]"]
            else:
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def write(tmp_path: Path, data: Data) -> Path:
    path = tmp_path / "course.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


# -- the shipped course ----------------------------------------------------------------------


def test_the_shipped_course_loads_and_validates() -> None:
    course = load_course()
    assert isinstance(course, Course)
    assert [module.number for module in course.modules] == [1, 2, 3, 4, 5, 6]
    for module in course.modules:
        assert 2 <= len(module.steps) <= 4
        assert module.elearning_url.startswith("https://")
        assert all(text and text == text.strip() for text in module.texts())
    assert course.module(3).number == 3


def test_the_course_is_immutable() -> None:
    course = load_course()
    with pytest.raises(ValueError, match="frozen"):
        course.modules[0].title = "Something else"  # type: ignore[misc]


def test_writing_it_back_gives_the_same_course(tmp_path: Path) -> None:
    # The helper the malformed-file tests rely on must not change anything by itself.
    assert load_course(write(tmp_path, shipped())) == load_course()


def test_an_unknown_module_number_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_course().module(7)


# -- malformed files -------------------------------------------------------------------------


def drop_module_4(data: Data) -> None:
    del data["modules"][3]


def swap_modules(data: Data) -> None:
    data["modules"][1], data["modules"][2] = data["modules"][2], data["modules"][1]


def set_field(module: int, key: str, value: object) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        target = data["modules"][module - 1]
        if "." in key:
            outer, inner = key.split(".")
            target[outer][inner] = value
        else:
            target[key] = value

    return change


def set_step(module: int, step: int, text: str) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        data["modules"][module - 1]["steps"][step - 1] = text

    return change


def remove_field(module: int, key: str) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        del data["modules"][module - 1][key]

    return change


TOO_LONG = " ".join(["word"] * (MAX_STEP_WORDS + 1)) + "."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param(
            drop_module_4, r"numbered \[1, 2, 3, 4, 5, 6\] in this order; found \[1, 2, 3, 5, 6\]",
            id="missing-module",
        ),
        pytest.param(swap_modules, r"found \[1, 3, 2, 4, 5, 6\]", id="modules-out-of-order"),
        pytest.param(
            set_field(2, "elearning_url", "ftp://elaering.example.dk/mestring/modul-2"),
            r"modules #2 → elearning_url: 'ftp://.*' is not an http\(s\) link",
            id="ftp-url",
        ),
        pytest.param(
            set_field(2, "elearning_url", "elaering.example.dk/mestring/modul-2"),
            r"is not an http\(s\) link",
            id="url-without-scheme",
        ),
        pytest.param(
            set_step(3, 2, "Hello {name}, try this."),
            r"modules #3 → steps #2: the step has the placeholder \{name\}; "
            r"allowed placeholders: none",
            id="placeholder",
        ),
        pytest.param(
            set_field(1, "tool.summary", "Use {0} and {}."),
            r"tool → summary: the tool summary has a stray \{ or \}",
            id="stray-braces",
        ),
        pytest.param(
            set_step(5, 1, TOO_LONG),
            rf"modules #5 → steps #1: the step has {MAX_STEP_WORDS + 1} words; "
            rf"at most {MAX_STEP_WORDS}",
            id="step-too-long",
        ),
        pytest.param(set_field(4, "title", ""), "the title is empty", id="empty-title"),
        pytest.param(set_field(4, "about", "   "), "the about is empty", id="blank-about"),
        pytest.param(
            set_field(4, "prepare", "Do it. "), "spaces at the start or end", id="trailing-space"
        ),
        pytest.param(
            set_field(6, "title", "<b>Keeping it going</b>"), "write plain text", id="html"
        ),
        pytest.param(remove_field(2, "prepare"), r"modules #2 → prepare: Field required",
                     id="missing-field"),
        pytest.param(set_field(2, "tittle", "Typo"), r"tittle: Extra inputs are not permitted",
                     id="misspelt-key"),
        pytest.param(set_field(1, "steps", ["Only one step."]), "at least 2 items",
                     id="one-step"),
        pytest.param(set_field(1, "steps", ["A step."] * 5), "at most 4 items", id="five-steps"),
        pytest.param(set_field(1, "number", "1"), "modules #1 → number", id="number-as-text"),
    ],
)
def test_a_malformed_course_is_refused_with_a_clear_message(
    tmp_path: Path, change: Callable[[Data], None], message: str
) -> None:
    data = copy.deepcopy(shipped())
    change(data)
    path = write(tmp_path, data)
    with pytest.raises(CourseError, match=message) as caught:
        load_course(path)
    assert str(path) in str(caught.value)


def test_a_file_that_is_not_toml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "course.toml"
    path.write_text('[[modules]]\ntitle = "unclosed\n', encoding="utf-8")
    with pytest.raises(CourseError, match="not valid TOML"):
        load_course(path)


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CourseError, match="missing"):
        load_course(tmp_path / "nowhere.toml")


# -- translation -----------------------------------------------------------------------------


def test_every_text_is_offered_for_translation_with_its_line() -> None:
    course = load_course()
    found = translatable_strings()
    assert [msgid for msgid, _file, _line in found] == list(dict.fromkeys(course.texts()))
    lines = COURSE_PATH.read_text(encoding="utf-8").splitlines()
    for msgid, location, line in found:
        assert location == COURSE_LOCATION
        assert line > 0, msgid
        assert msgid in lines[line - 1]


def test_a_multi_line_string_is_found_where_it_starts(tmp_path: Path) -> None:
    source = to_toml(shipped()).replace(
        '"Pacing"', '"""\\\n  Pacing"""  # a comment after the value'
    )
    path = tmp_path / "course.toml"
    path.write_text(source, encoding="utf-8")
    lines = {msgid: line for msgid, _file, line in translatable_strings(path)}
    assert source.splitlines()[lines["Pacing"] - 1].startswith("tool.name = \"\"\"")


def test_the_translation_template_holds_the_course() -> None:
    template = catalogs.extract()
    for text in load_course().texts():
        message = template[text]
        assert message is not None, text
        assert any(path == COURSE_LOCATION for path, _line in message.locations)


@pytest.mark.parametrize("locale", ["da", "nb"])
def test_every_module_is_translated(locale: str) -> None:
    with po_path(locale).open("rb") as fh:
        catalog = read_po(fh, locale=locale)
    tr = Catalogs.load().tr(locale)
    missing = []
    for module in load_course().modules:
        for text in module.texts():
            message = catalog.get(text)
            if message is None or message.fuzzy or not message.string:
                missing.append(f"module {module.number}: {text!r}")
            else:
                assert tr._(text) == message.string
    assert not missing, f"{locale}: translate these course texts:\n" + "\n".join(missing)


def test_a_course_word_missing_from_the_catalogs_fails_the_check(tmp_path: Path) -> None:
    project = tmp_path / "project"
    for folder in dict.fromkeys((*catalogs.EXTRACT_DIRS, "locales")):
        shutil.copytree(
            catalogs.PROJECT_DIR / folder, project / folder,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    new_step = "A brand new step that nobody has translated yet."
    data = shipped()
    data["modules"][2]["steps"][1] = new_step
    (project / COURSE_LOCATION).write_text(to_toml(data), encoding="utf-8")

    problems = catalogs.check(project / "locales")

    flagged = {(p.locale, p.problem) for p in problems if p.msgid == new_step}
    assert flagged == {(locale, "not in catalog (run update)") for locale in SUPPORTED_LOCALES}
