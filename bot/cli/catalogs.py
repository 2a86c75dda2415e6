"""The translation workflow: extract → update → translate → check.

``mestring i18n update`` extracts every message id from the code into ``locales/messages.pot``
and merges it into each locale's ``messages.po`` with Babel's catalog tools. Translators then
edit the ``.po`` files; ``mestring i18n check`` (and the test suite) refuse missing or fuzzy
translations and placeholders that do not match. English is the source language: its catalog
is filled with the message ids so that it, too, is complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from dialogs.content.course import COURSE_LOCATION, translatable_strings
from dialogs.questionnaires.loader import DATA_DIR as QUESTIONNAIRE_DIR
from dialogs.questionnaires.loader import message_ids as questionnaire_message_ids
from locales.i18n import (
    DOMAIN,
    LOCALES_DIR,
    SOURCE_LOCALE,
    SUPPORTED_LOCALES,
    placeholders,
    po_path,
)

PROJECT_DIR = LOCALES_DIR.parent
POT_PATH = LOCALES_DIR / f"{DOMAIN}.pot"
KEYWORDS = {"_": None, "N_": None, "n_": (1, 2)}
EXTRACT_DIRS = ("bot", "dialogs", "locales", "storage")


def extract(project_dir: Path = PROJECT_DIR) -> Catalog:
    template = Catalog(project="mestring", msgid_bugs_address=None, fuzzy=False)
    for folder in EXTRACT_DIRS:
        for filename, lineno, message, comments, _context in extract_from_dir(
            project_dir / folder,
            method_map=[("**.py", "python")],
            keywords=KEYWORDS,
            comment_tags=("Translators:",),
        ):
            template.add(
                message,
                None,
                [(f"{folder}/{filename}", lineno)],
                auto_comments=comments,
                flags=("python-brace-format",) if _has_placeholders(message) else (),
            )
    # Course content is data, not code, but its words are message ids all the same.
    course_file = project_dir / COURSE_LOCATION
    if course_file.exists():
        for message, location, lineno in translatable_strings(course_file, COURSE_LOCATION):
            template.add(
                message,
                None,
                [(location, lineno)],
                flags=("python-brace-format",) if _has_placeholders(message) else (),
            )
    # Questionnaire words are message ids too (the shipped files only: an evaluator's own
    # file carries its licensed wording inline and never goes through the catalogs).
    questionnaires = project_dir / QUESTIONNAIRE_DIR.relative_to(PROJECT_DIR)
    if questionnaires.is_dir():
        for message, location, _where in questionnaire_message_ids(questionnaires, project_dir):
            template.add(
                message,
                None,
                [location],
                flags=("python-brace-format",) if _has_placeholders(message) else (),
            )
    return template


def _has_placeholders(message: str | tuple[str, ...]) -> bool:
    texts = message if isinstance(message, tuple) else (message,)
    return any(placeholders(text) for text in texts)


def update(locales_dir: Path = LOCALES_DIR) -> dict[str, int]:
    """Write the template and merge it into every catalog; return untranslated counts."""
    template = extract(locales_dir.parent)
    with (locales_dir / f"{DOMAIN}.pot").open("wb") as fh:
        write_po(fh, template, width=100)
    untranslated: dict[str, int] = {}
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale, locales_dir)
        if path.exists():
            with path.open("rb") as fh:
                catalog = read_po(fh, locale=locale)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=locale, project="mestring", fuzzy=False)
        catalog.update(template, update_creation_date=False)
        # Drop what the code no longer says; it lives on in version control.
        catalog.obsolete.clear()
        if locale == SOURCE_LOCALE:
            # The source language says exactly what the code says.
            for message in catalog:
                if message.id:
                    message.string = message.id
                    message.flags.discard("fuzzy")
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False)
        untranslated[locale] = sum(
            1 for m in catalog if m.id and (not _translated(m.string) or m.fuzzy)
        )
    return untranslated


def _translated(string: str | tuple[str, ...] | None) -> bool:
    if not string:
        return False
    if isinstance(string, tuple):
        return all(string)
    return True


@dataclass(frozen=True)
class CatalogProblem:
    locale: str
    msgid: str
    problem: str

    def __str__(self) -> str:
        return f"{self.locale}: {self.problem}: {self.msgid[:70]!r}"


def check(locales_dir: Path = LOCALES_DIR) -> list[CatalogProblem]:
    """Every message translated, none fuzzy, placeholders kept, and nothing stale."""
    problems: list[CatalogProblem] = []
    template_ids = {m.id for m in extract(locales_dir.parent) if m.id}
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale, locales_dir)
        if not path.exists():
            problems.append(CatalogProblem(locale, str(path), "catalog missing"))
            continue
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=locale)
        ids = {m.id for m in catalog if m.id}
        for msgid in template_ids - ids:
            problems.append(CatalogProblem(locale, _first(msgid), "not in catalog (run update)"))
        for message in catalog:
            if not message.id:
                continue
            msgid = _first(message.id)
            if message.fuzzy:
                problems.append(CatalogProblem(locale, msgid, "fuzzy"))
            if not _translated(message.string):
                problems.append(CatalogProblem(locale, msgid, "untranslated"))
                continue
            sources = message.id if isinstance(message.id, tuple) else (message.id,)
            targets = message.string if isinstance(message.string, tuple) else (message.string,)
            expected = set().union(*(placeholders(s) for s in sources))
            for target in targets:
                if placeholders(target) != expected:
                    problems.append(CatalogProblem(
                        locale, msgid,
                        f"placeholders {sorted(placeholders(target))} != {sorted(expected)}",
                    ))
            for _message, errors in [(message, message.check(catalog))]:
                problems.extend(CatalogProblem(locale, msgid, str(e)) for e in errors)
    return problems


def _first(msgid: str | tuple[str, ...]) -> str:
    return msgid[0] if isinstance(msgid, tuple) else msgid
