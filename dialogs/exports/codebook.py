"""The codebook: every variable of every file with its description in da, nb and en, every
questionnaire item and score with its wording, scale, values, non-substantive codes, safety
threshold and scoring rule, and the rules that hold for every file.

Item wording comes from where the bot takes it when it asks: the gettext catalogs for our own
questionnaires, the evaluator's inline wording for licensed instruments (`Words.render`), so
the codebook shows exactly the words participants saw. Variable descriptions are message ids
in the catalogs like any other text.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from dialogs.exports.datasets import (
    SCORE_DECIMALS,
    SCORE_PREFIX,
    Column,
    Dataset,
    Row,
    wide_name,
)
from dialogs.exports.sql import FORMULA_STARTS, NEUTRALISER
from dialogs.questionnaires import Questionnaire
from dialogs.questionnaires.model import ChoiceItem, Item, ScaleItem, Score, Words, YesNoItem
from locales.i18n import N_, SUPPORTED_LOCALES, Catalogs, Tr

NAME = "codebook"
ALL_FILES = "*"


def _per_locale(name: str, description: str) -> tuple[Column, ...]:
    return tuple(Column(f"{name}_{loc}", "string", description) for loc in SUPPORTED_LOCALES)


COLUMNS: tuple[Column, ...] = (
    Column("dataset", "string", N_("File (without its extension) or workbook sheet the "
                                   "variable is in; * for rules that hold in every file")),
    Column("variable", "string", N_("Column name")),
    Column("kind", "string", N_("column, item (a questionnaire item; in long files its key is "
                                "in item_key), score, or rule (holds for every file)")),
    Column("type", "string", N_("string, integer, number, datetime (ISO 8601 UTC) or boolean "
                                "(1/0)")),
    *_per_locale("description", N_("What the variable holds, in this language")),
    Column("questionnaire_key", "string", N_("Questionnaire of an item or score")),
    Column("questionnaire_version", "string", N_("Version answered (the dataset's version)")),
    Column("item_type", "string", N_("scale, choice, yesno or text")),
    Column("required", "boolean", N_("1 if the item could not be skipped")),
    *_per_locale("text", N_("Item wording as shown, in this language")),
    Column("scale_min", "integer", N_("Lowest scale point")),
    Column("scale_max", "integer", N_("Highest scale point")),
    *_per_locale("min_label", N_("Label of the lowest scale point, in this language")),
    *_per_locale("max_label", N_("Label of the highest scale point, in this language")),
    *_per_locale("values", N_("Stored values and their labels: 'value=label; …', in this "
                              "language")),
    Column("nonsubstantive_values", "string", N_("Stored values of non-substantive answers "
                                                 "(e.g. I don't know): exported as a code "
                                                 "beside the item, never as its value")),
    Column("safety_at_or_below", "integer", N_("An answer at or below this value showed the "
                                               "safety message with emergency numbers (once "
                                               "per response; see safety_shown_at)")),
    Column("scoring", "string", N_("How a score is computed from the items")),
    Column("notes", "string", N_("Anything else to know")),
)
_AT = {c.name: i for i, c in enumerate(COLUMNS)}

# Rules that hold for every file, as codebook rows (variable, English message id).
RULES: tuple[tuple[str, str], ...] = (
    ("text_cells", N_("A text cell that starts with = + - @, a tab or a carriage return has a "
                      "leading apostrophe (') in every file, so that no spreadsheet reads it "
                      "as a formula (OWASP's advice against CSV injection); remove the first "
                      "apostrophe of such a cell to get the text as given. Numbers are never "
                      "changed.")),
    ("scores", N_("Scores are rounded to 2 decimals, halves away from zero, the same number in "
                  "every file.")),
    ("nonsubstantive", N_("Non-substantive answers (e.g. I don't know, I had no plan) are not "
                          "values: in long files value is empty and value_nonsubstantive "
                          "holds the code; in wide files the item is empty and "
                          "<item>_nonsub holds the code. Scores leave them out. In .sav files "
                          "the item holds the code declared missing, in .dta files an "
                          "extended missing value (.a, .b, …); both are labelled.")),
    ("times", N_("Times are UTC; team_timezone gives the team's zone for local times of "
                 "day.")),
)


def _row(**cells: object) -> Row:
    row: list[object] = [None] * len(COLUMNS)
    for name, value in cells.items():
        row[_AT[name]] = value
    return tuple(row)  # type: ignore[return-value]


def _locales(name: str, values: Sequence[str | None]) -> dict[str, str | None]:
    return {f"{name}_{loc}": value for loc, value in zip(SUPPORTED_LOCALES, values, strict=True)}


def _words(words: Words | None, trs: Sequence[Tr]) -> list[str | None]:
    return [words.render(tr) if words is not None else None for tr in trs]


def _values(item: Item, trs: Sequence[Tr]) -> list[str | None]:
    if isinstance(item, ChoiceItem):
        return ["; ".join(f"{o.value}={o.label.render(tr)}" for o in item.options)
                for tr in trs]
    if isinstance(item, YesNoItem):
        return [f"1={tr._('Yes')}; 0={tr._('No')}" for tr in trs]
    if isinstance(item, ScaleItem):
        return [f"{item.min}..{item.max}" for _ in trs]
    return [None for _ in trs]


def scoring_rule(rule: Score) -> str:
    text = f"{rule.method} of {', '.join(rule.items)}"
    if rule.reverse:
        text += f"; reverse-scored (min + max − answer): {', '.join(rule.reverse)}"
    if rule.multiply != 1:
        text += f"; multiplied by {rule.multiply:g}"
    text += (f"; needs at least {rule.needed} of {len(rule.items)} items answered, else empty"
             "; skipped and non-substantive answers are missing, nothing is imputed"
             f"; rounded to {SCORE_DECIMALS} decimals, halves away from zero")
    return text


def _column_row(dataset: str, column: Column, trs: Sequence[Tr]) -> Row:
    return _row(dataset=dataset, variable=column.name, kind="column", type=column.type,
                **_locales("description", [tr._(column.description) for tr in trs]))


def _item_row(dataset: str, key: str, version: str, q: Questionnaire | None, item_key: str,
              trs: Sequence[Tr], notes: str | None) -> Row:
    item = q.item(item_key) if q is not None else None
    described = _locales("description", [
        tr._("Item {item} of questionnaire {questionnaire}", item=item_key, questionnaire=key)
        for tr in trs])
    if item is None:
        return _row(dataset=dataset, variable=item_key, kind="item", type="number",
                    questionnaire_key=key, questionnaire_version=version, **described,
                    notes="not in the current questionnaire file: wording unknown")
    scale = isinstance(item, ScaleItem)
    odd = item.nonsubstantive_values if isinstance(item, ChoiceItem) else ()
    return _row(
        dataset=dataset, variable=item.key, kind="item",
        type="string" if item.type == "text" else "number", **described,
        questionnaire_key=key, questionnaire_version=version, item_type=item.type,
        required=int(item.required), **_locales("text", _words(item.text, trs)),
        scale_min=item.min if scale else None, scale_max=item.max if scale else None,
        **_locales("min_label", _words(item.min_label if scale else None, trs)),
        **_locales("max_label", _words(item.max_label if scale else None, trs)),
        **_locales("values", _values(item, trs)),
        nonsubstantive_values=" ".join(str(v) for v in odd) or None,
        safety_at_or_below=getattr(item, "safety_at_or_below", None), notes=notes,
    )


def _score_row(dataset: str, key: str, version: str, rule: Score, trs: Sequence[Tr],
               notes: str | None) -> Row:
    return _row(
        dataset=dataset, variable=f"{SCORE_PREFIX}{rule.key}", kind="score", type="number",
        **_locales("description", [
            rule.label.render(tr) if rule.label is not None
            else tr._("Score {score} of questionnaire {questionnaire}", score=rule.key,
                      questionnaire=key) for tr in trs]),
        questionnaire_key=key, questionnaire_version=version, scoring=scoring_rule(rule),
        notes=notes,
    )


def _version_note(q: Questionnaire | None, version: str) -> str | None:
    if q is None or q.version == version:
        return None
    return (f"wording and scoring of version {q.version} (the current file); these answers "
            f"were given on version {version}, matched by item key")


def rows(
    datasets: Iterable[Dataset],
    questionnaires: Mapping[str, Questionnaire],
    catalogs: Catalogs,
    extra: Iterable[tuple[str, Sequence[Column]]] = (),
) -> Iterator[Row]:
    """Codebook rows: the rules for every file, then `datasets` (plus `extra` (name, columns)
    such as the codebook itself), then the items and scores of every shipped questionnaire
    without data in this export."""
    trs = [catalogs.tr(loc) for loc in SUPPORTED_LOCALES]
    starts = " ".join(repr(s)[1:-1] for s in FORMULA_STARTS)
    for variable, description in RULES:
        yield _row(dataset=ALL_FILES, variable=variable, kind="rule",
                   **_locales("description", [tr._(description) for tr in trs]),
                   notes=f"neutralised starts: {starts}; mark: {NEUTRALISER}"
                   if variable == "text_cells" else None)
    covered: set[tuple[str, str]] = set()
    for dataset in datasets:
        if dataset.questionnaire is None:
            for column in dataset.columns:
                yield _column_row(dataset.name, column, trs)
            continue
        key, version = dataset.questionnaire
        covered.add((key, version))
        q = questionnaires.get(key)
        note = _version_note(q, version)
        rules = {f"{SCORE_PREFIX}{r.key}": r for r in q.scores} if q is not None else {}
        for column in dataset.columns:
            if column.name in rules:
                yield _score_row(dataset.name, key, version, rules[column.name], trs, note)
            elif column.name in dataset.items:
                yield _item_row(dataset.name, key, version, q, column.name, trs, note)
            else:
                yield _column_row(dataset.name, column, trs)
    for name, columns in extra:
        for column in columns:
            yield _column_row(name, column, trs)
    for key, q in sorted(questionnaires.items()):
        if (key, q.version) in covered:
            continue
        dataset = wide_name(key, q.version)
        note = "no responses in this export"
        for item in q.items:
            yield _item_row(dataset, key, q.version, q, item.key, trs, note)
        for rule in q.scores:
            yield _score_row(dataset, key, q.version, rule, trs, note)
