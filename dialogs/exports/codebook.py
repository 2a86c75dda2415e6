"""The codebook: every variable of every file, and every questionnaire item and score with its
wording in each language, scale, values and scoring rule.

Item wording comes from where the bot takes it when it asks: the gettext catalogs for our own
questionnaires, the evaluator's inline wording for licensed instruments (`Words.render`), so
the codebook shows exactly the words participants saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence

from dialogs.exports.datasets import SCORE_PREFIX, Column, Dataset, Row, wide_name
from dialogs.questionnaires import Questionnaire
from dialogs.questionnaires.model import ChoiceItem, Item, ScaleItem, Score, Words, YesNoItem
from locales.i18n import SUPPORTED_LOCALES, Catalogs, Tr

NAME = "codebook"
LOCALES = SUPPORTED_LOCALES  # da, nb, en


def _per_locale(name: str, description: str) -> tuple[Column, ...]:
    return tuple(Column(f"{name}_{loc}", "string", f"{description} ({loc})") for loc in LOCALES)


COLUMNS: tuple[Column, ...] = (
    Column("dataset", "string", "File (without .csv) or workbook sheet the variable is in"),
    Column("variable", "string", "Column name"),
    Column("kind", "string", "column, item (a questionnaire item; in long files its key is in "
           "item_key) or score"),
    Column("type", "string", "string, integer, number, datetime (ISO 8601 UTC) or boolean (1/0)"),
    Column("description", "string", "What the variable holds"),
    Column("questionnaire_key", "string", "Questionnaire of an item or score"),
    Column("questionnaire_version", "string", "Version answered (the dataset's version)"),
    Column("item_type", "string", "scale, choice, yesno or text"),
    Column("required", "boolean", "1 if the item could not be skipped"),
    *_per_locale("text", "Item wording as shown"),
    Column("scale_min", "integer", "Lowest scale point"),
    Column("scale_max", "integer", "Highest scale point"),
    *_per_locale("min_label", "Label of the lowest scale point"),
    *_per_locale("max_label", "Label of the highest scale point"),
    *_per_locale("values", "Stored values and their labels: 'value=label; …'"),
    Column("scoring", "string", "How a score is computed from the items"),
    Column("notes", "string", "Anything else to know"),
)


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
             "; skipped items are missing, nothing is imputed")
    return text


def _empty(n: int) -> list[None]:
    return [None] * n


def _column_row(dataset: str, column: Column) -> Row:
    return (dataset, column.name, "column", column.type, column.description,
            *_empty(len(COLUMNS) - 5))


def _item_row(dataset: str, key: str, version: str, q: Questionnaire | None, item_key: str,
              trs: Sequence[Tr], notes: str | None) -> Row:
    item = q.item(item_key) if q is not None else None
    if item is None:
        return (dataset, item_key, "item", "number", f"Item {item_key}", key, version,
                None, None, *_empty(3), None, None, *_empty(9),
                None, "not in the current questionnaire file: wording unknown")
    scale = isinstance(item, ScaleItem)
    return (
        dataset, item.key, "item", "string" if item.type == "text" else "number",
        f"Item {item.key} of {key}", key, version, item.type, item.required,
        *_words(item.text, trs),
        item.min if scale else None, item.max if scale else None,
        *_words(item.min_label if scale else None, trs),
        *_words(item.max_label if scale else None, trs),
        *_values(item, trs), None, notes,
    )


def _score_row(dataset: str, key: str, version: str, rule: Score, notes: str | None) -> Row:
    return (dataset, f"{SCORE_PREFIX}{rule.key}", "score", "number",
            f"Score {rule.key} of {key}", key, version, *_empty(2 + 3 + 2 + 9),
            scoring_rule(rule), notes)


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
    """Codebook rows for `datasets` (plus `extra` (name, columns) such as the codebook itself),
    then the items and scores of every shipped questionnaire without data in this export."""
    trs = [catalogs.tr(loc) for loc in LOCALES]
    covered: set[tuple[str, str]] = set()
    for dataset in datasets:
        if dataset.questionnaire is None:
            for column in dataset.columns:
                yield _column_row(dataset.name, column)
            continue
        key, version = dataset.questionnaire
        covered.add((key, version))
        q = questionnaires.get(key)
        note = _version_note(q, version)
        rules = {f"{SCORE_PREFIX}{r.key}": r for r in q.scores} if q is not None else {}
        for column in dataset.columns:
            if column.name in rules:
                yield _score_row(dataset.name, key, version, rules[column.name], note)
            elif column.name in dataset.items:
                yield _item_row(dataset.name, key, version, q, column.name, trs, note)
            else:
                yield _column_row(dataset.name, column)
    for name, columns in extra:
        for column in columns:
            yield _column_row(name, column)
    for key, q in sorted(questionnaires.items()):
        if (key, q.version) in covered:
            continue
        dataset = wide_name(key, q.version)
        note = "no responses in this export"
        for item in q.items:
            yield _item_row(dataset, key, q.version, q, item.key, trs, note)
        for rule in q.scores:
            yield _score_row(dataset, key, q.version, rule, note)
