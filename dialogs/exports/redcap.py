"""REDCap: a data dictionary for the questionnaires in REDCap's import format, the events and
their instruments, and a records file that imports into a longitudinal project made from them.

Instruments: ``evaluation`` (the items of the baseline, post and follow-up questionnaires,
which share their items; an item only one of them asks is empty at the other events) and
``checkin``. Events (arm 1): Baseline, Checkin 1–6, Post, Followup, whose unique names REDCap
derives as ``baseline_arm_1``, ``checkin_1_arm_1``, …. Each response is one (record, event)
row: a participant answers each questionnaire once per occasion, so nothing repeats and the
records need no ``redcap_repeat_instrument``/``redcap_repeat_instance``. Scores are not
REDCap fields (their rules are in the codebook and the scores file).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dialogs.exports.datasets import Column, Value
from dialogs.exports.sql import neutralise
from dialogs.exports.writers import private_file, read_typed
from dialogs.occasion import CHECKIN, Occasion
from dialogs.questionnaires import ChoiceItem, Questionnaire, ScaleItem, TextItem, YesNoItem
from dialogs.questionnaires.model import Item
from locales.i18n import N_, Tr
from storage.models.base import COURSE_MODULES

DICTIONARY = "redcap_data_dictionary.csv"
RECORDS = "redcap_records.csv"
EVENTS = "redcap_events.csv"
MAPPING = "redcap_instrument_designation.csv"
DICTIONARY_HEADER = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min", "Text Validation Max",
    "Identifier?", "Branching Logic (Show field only if...)", "Required Field?",
    "Custom Alignment", "Question Number (surveys only)", "Matrix Group Name",
    "Matrix Ranking?", "Field Annotation",
)
EVALUATION = "evaluation"
EVALUATION_KEYS = ("baseline", "post", "followup")
RECORD_ID = "record_id"
COMPLETE, INCOMPLETE = 2, 0  # REDCap's <instrument>_complete codes


@dataclass(frozen=True)
class Event:
    occasion: str
    label: str
    instrument: str

    @property
    def unique_name(self) -> str:
        return f"{self.label.lower().replace(' ', '_')}_arm_1"


EVENTS_IN_ORDER = (
    Event("baseline", "Baseline", EVALUATION),
    *(Event(str(Occasion.checkin(n)), f"Checkin {n}", CHECKIN)
      for n in range(1, COURSE_MODULES + 1)),
    Event("post", "Post", EVALUATION),
    Event("followup", "Followup", EVALUATION),
)
_EVENT = {e.occasion: e for e in EVENTS_IN_ORDER}


def instrument(key: str) -> str | None:
    if key == CHECKIN:
        return CHECKIN
    return EVALUATION if key in EVALUATION_KEYS else None


@dataclass(frozen=True)
class Field:
    name: str
    instrument: str
    item: Item


def fields(questionnaires: Mapping[str, Questionnaire]) -> list[Field]:
    """The questionnaire items as REDCap fields, evaluation first (REDCap's first instrument
    holds the record id). An item key two questionnaires of one instrument share is one
    field; the same key in another instrument gets the instrument's name in front."""
    found: dict[str, Field] = {}
    for key in (*EVALUATION_KEYS, CHECKIN):
        q = questionnaires.get(key)
        form = instrument(key)
        if q is None or form is None:
            continue
        for item in q.items:
            name = item.key
            if name in found and found[name].instrument != form:
                name = f"{form}_{item.key}"
            found.setdefault(name, Field(name, form, item))
    return list(found.values())


def _choices(item: Item, tr: Tr) -> str:
    if isinstance(item, ChoiceItem):
        return " | ".join(f"{o.value}, {o.label.render(tr)}" for o in item.options)
    if isinstance(item, ScaleItem):
        ends = {item.min: item.min_label.render(tr), item.max: item.max_label.render(tr)}
        return " | ".join(f"{v}, {v} {ends[v]}" if v in ends else f"{v}, {v}"
                          for v in item.values)
    return ""


def _field_type(item: Item) -> str:
    if isinstance(item, YesNoItem):
        return "yesno"  # REDCap's own 1 = Yes, 0 = No, as we store it
    if isinstance(item, TextItem):
        return "notes"
    return "radio"


def _note(item: Item, tr: Tr) -> str:
    if isinstance(item, ChoiceItem) and item.nonsubstantive_values:
        return "; ".join(f"{o.value} = {o.label.render(tr)}" for o in item.options
                         if o.nonsubstantive) + " (non-substantive)"
    return ""


def codebook_columns(questionnaires: Mapping[str, Questionnaire]
                     ) -> list[tuple[str, tuple[Column, ...]]]:
    """The REDCap files' columns, for the codebook."""
    found = fields(questionnaires)
    forms = list(dict.fromkeys(f.instrument for f in found))
    dictionary = N_("Column of REDCap's data dictionary import format (see REDCap's own "
                    "help)")
    records = [
        Column(RECORD_ID, "string", N_("REDCap record: the participant's study ID")),
        Column("redcap_event_name", "string", N_("REDCap event of the response's occasion, "
                                                 "e.g. baseline_arm_1, checkin_1_arm_1")),
    ]
    for form in forms:
        records += [Column(f.name, "string" if isinstance(f.item, TextItem) else "number",
                           N_("Item answer as REDCap stores it: non-substantive answers as "
                              "their code (see the dictionary)"))
                    for f in found if f.instrument == form]
        records.append(Column(f"{form}_complete", "integer", N_("REDCap form status: 2 "
                                                                "complete, 0 incomplete")))
    return [
        (DICTIONARY.removesuffix(".csv"),
         tuple(Column(h, "string", dictionary) for h in DICTIONARY_HEADER)),
        (EVENTS.removesuffix(".csv"),
         (Column("event_name", "string", N_("REDCap event to create in arm 1")),
          Column("arm_num", "integer", N_("REDCap arm")))),
        (MAPPING.removesuffix(".csv"),
         (Column("arm_num", "integer", N_("REDCap arm")),
          Column("unique_event_name", "string", N_("REDCap's name of the event")),
          Column("form", "string", N_("Instrument collected at that event")))),
        (RECORDS.removesuffix(".csv"), tuple(records)),
    ]


def write_dictionary(folder: Path, questionnaires: Mapping[str, Questionnaire], tr: Tr
                     ) -> list[Path]:
    """The data dictionary, the events and the instrument designations."""
    found = fields(questionnaires)
    first = found[0].instrument if found else EVALUATION
    rows: list[Sequence[str]] = [(RECORD_ID, first, "", "text", "Study ID", *[""] * 13)]
    for f in found:
        item = f.item
        row = [""] * len(DICTIONARY_HEADER)
        row[0], row[1], row[3] = f.name, f.instrument, _field_type(item)
        row[4], row[5], row[6] = item.text.render(tr), _choices(item, tr), _note(item, tr)
        row[12] = "y" if item.required else ""
        rows.append(row)
    paths = [_write(folder / DICTIONARY, DICTIONARY_HEADER, rows)]
    used = {f.instrument for f in found}
    events = [e for e in EVENTS_IN_ORDER if e.instrument in used]
    paths.append(_write(folder / EVENTS, ("event_name", "arm_num"),
                        [(e.label, "1") for e in events]))
    paths.append(_write(folder / MAPPING, ("arm_num", "unique_event_name", "form"),
                        [("1", e.unique_name, e.instrument) for e in events]))
    return paths


@dataclass(frozen=True)
class WideSource:
    """A finished wide CSV file and what its columns are (picklable)."""

    key: str
    csv: Path
    columns: tuple[Column, ...]
    nonsubstantive: Mapping[str, str]


def write_records(folder: Path, questionnaires: Mapping[str, Questionnaire],
                  sources: Sequence[WideSource]) -> Path:
    """One row per response: record_id = study ID, the occasion's event, its instrument's
    fields and ``<instrument>_complete`` (2 complete, 0 incomplete)."""
    found = fields(questionnaires)
    forms = list(dict.fromkeys(f.instrument for f in found))
    header = [RECORD_ID, "redcap_event_name"]
    for form in forms:
        header += [f.name for f in found if f.instrument == form] + [f"{form}_complete"]
    at = {name: i for i, name in enumerate(header)}
    by_item = {(f.instrument, f.item.key): f.name for f in found}
    path = folder / RECORDS
    with private_file(path) as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        for source in sources:
            form = instrument(source.key)
            if form is None or form not in forms:
                continue
            names = [c.name for c in source.columns]
            for values in read_typed(source.csv, source.columns):
                cell = dict(zip(names, values, strict=True))
                event = _EVENT.get(str(cell["occasion"]))
                if event is None:
                    continue
                row: list[Value] = [None] * len(header)
                row[0], row[1] = cell["study_id"], event.unique_name
                for name, value in cell.items():
                    target = by_item.get((form, name))
                    if target is None:
                        continue
                    code = source.nonsubstantive.get(name)
                    row[at[target]] = cell[code] if code and cell[code] is not None else value
                row[at[f"{form}_complete"]] = COMPLETE if cell["response_complete"] else INCOMPLETE
                writer.writerow(row)
    return path


def _write(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    with private_file(path) as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return path
