"""Each wide questionnaire file also as Stata ``.dta`` and SPSS ``.sav``, with variable labels
(the item wording in the export's language) and value labels (scale anchors, choice labels,
yes/no), written with pyreadstat from the finished CSV file (so the cells are the CSV's).

Non-substantive answers ("I don't know", "I had no plan") are missing values the packages know:
in SPSS the item holds the stored code declared user-missing (labelled, left out of every
statistic); in Stata it holds an extended missing value ``.a``, ``.b``, … labelled with the
answer. The ``<item>_nonsub`` column holds the code as in the CSV.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dialogs.exports.datasets import SCORE_PREFIX, Column
from dialogs.exports.writers import short_unique
from dialogs.questionnaires import ChoiceItem, Questionnaire, ScaleItem, YesNoItem
from locales.i18n import Tr

STATA_NAME = 32  # characters in a Stata variable name
STATA_LABEL = 80  # characters Stata shows of a variable label
SPSS_LABEL = 255
_TAGS = "abcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class WideFile:
    """What the labelled files of one wide dataset are made from (picklable)."""

    name: str
    csv: Path
    columns: tuple[Column, ...]
    questionnaire: Questionnaire | None
    items: tuple[str, ...]
    nonsubstantive: Mapping[str, str]


def stata_names(names: Sequence[str]) -> dict[str, str]:
    """Column name → a valid, unique Stata name (≤ 32 characters); most stay as they are."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        out[name] = short_unique(re.sub(r"[^A-Za-z0-9_]", "_", name), STATA_NAME, taken)
    return out


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def variable_labels(wide: WideFile, tr: Tr) -> dict[str, str]:
    q = wide.questionnaire
    rules = {f"{SCORE_PREFIX}{r.key}": r for r in q.scores} if q is not None else {}
    labels: dict[str, str] = {}
    for column in wide.columns:
        item = q.item(column.name) if q is not None and column.name in wide.items else None
        rule = rules.get(column.name)
        if item is not None:
            labels[column.name] = item.text.render(tr)
        elif rule is not None and rule.label is not None:
            labels[column.name] = rule.label.render(tr)
        else:
            labels[column.name] = tr._(column.description)
    return labels


def value_labels(wide: WideFile, tr: Tr) -> dict[str, dict[Any, str]]:
    """Numeric column → {value: label}; non-substantive codes included."""
    q = wide.questionnaire
    labels: dict[str, dict[Any, str]] = {}
    for column in wide.columns:
        if column.type == "boolean":
            labels[column.name] = {1: tr._("Yes"), 0: tr._("No")}
    if q is None:
        return labels
    for key in wide.items:
        item = q.item(key)
        if isinstance(item, ScaleItem):
            labels[key] = {item.min: item.min_label.render(tr),
                           item.max: item.max_label.render(tr)}
        elif isinstance(item, YesNoItem):
            labels[key] = {1: tr._("Yes"), 0: tr._("No")}
        elif isinstance(item, ChoiceItem):
            labels[key] = {o.value: o.label.render(tr) for o in item.options}
            if key in wide.nonsubstantive:
                labels[wide.nonsubstantive[key]] = {o.value: o.label.render(tr)
                                                    for o in item.options if o.nonsubstantive}
    return labels


def write_labelled(wide: WideFile, folder: Path, tr: Tr) -> list[Path]:
    """``<name>.dta`` and ``<name>.sav`` next to the CSV; returns their paths."""
    import pandas as pd  # a heavy import, needed only for these files
    import pyreadstat

    names = [c.name for c in wide.columns]
    # pandas' C parser, numbers as float64 and repeated strings as categories: a fraction of
    # the memory of Python objects per cell (the dataset is held while it is written).
    frame = pd.read_csv(
        wide.csv, encoding="utf-8-sig", keep_default_na=False, na_values=[""],
        dtype={c.name: "category" if c.type in ("string", "datetime") else "float64"
               for c in wide.columns})
    for column in wide.columns:
        if column.type == "datetime":
            frame[column.name] = pd.to_datetime(
                frame[column.name].astype(object), format="%Y-%m-%dT%H:%M:%SZ")
    # The item cell of a non-substantive answer: its code (SPSS, declared missing) or a
    # tagged missing value (Stata); the CSV leaves it empty and gives the code beside it.
    tags = {item: {float(c): _TAGS[i] for i, c in enumerate(sorted(
        frame[code].dropna().unique()))} for item, code in wide.nonsubstantive.items()}
    sav_frame = frame.copy(deep=False)
    dta_frame = frame.copy(deep=False)
    for item, code in wide.nonsubstantive.items():
        sav_frame[item] = frame[item].fillna(frame[code])
        tagged = frame[item].astype(object)
        odd = frame[code].notna()
        tagged[odd] = frame[code][odd].map(tags[item])
        dta_frame[item] = tagged
    for column in wide.columns:
        if column.type == "string":
            # Stata's missing string is "" (and readstat's long strings need one); still a
            # category, so no Python string per cell.
            values = frame[column.name]
            if "" not in values.cat.categories:
                values = values.cat.add_categories([""])
            dta_frame[column.name] = values.fillna("")

    variables = variable_labels(wide, tr)
    values = value_labels(wide, tr)
    dta, sav = folder / f"{wide.name}.dta", folder / f"{wide.name}.sav"

    renamed = stata_names(names)
    stata_values: dict[str, dict[Any, str]] = {}
    for name, labels in values.items():
        labels = dict(labels)
        for code, tag in tags.get(name, {}).items():
            labels[tag] = labels.pop(code, str(code))
        stata_values[renamed[name]] = labels
    pyreadstat.write_dta(
        dta_frame.rename(columns=renamed), str(dta),
        file_label=_clip(wide.name, STATA_LABEL),
        column_labels={renamed[n]: _clip(label, STATA_LABEL) for n, label in variables.items()},
        variable_value_labels=stata_values,
        missing_user_values={renamed[item]: list(t.values()) for item, t in tags.items() if t},
    )
    pyreadstat.write_sav(
        sav_frame, str(sav), file_label=wide.name,
        column_labels={n: _clip(label, SPSS_LABEL) for n, label in variables.items()},
        variable_value_labels=values,
        missing_ranges={item: list(t) for item, t in tags.items() if t},
    )
    for path in (dta, sav):
        path.chmod(0o600)
    return [dta, sav]
