"""What an evaluator checks before trusting an export, read back with `csv`, openpyxl and
pyreadstat: labelled Stata/SPSS files, REDCap dictionary and records that agree, timing and
safety paradata, non-substantive answers that no mean can include, one rounding rule, and no
cell a spreadsheet would run as a formula. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta
from pathlib import Path

import pyreadstat
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.exports import ExportResult, resolve_scope, run_export
from dialogs.exports.datasets import round_score
from dialogs.exports.labelled import stata_names
from dialogs.exports.sql import FORMULA_STARTS
from dialogs.questionnaires import Questionnaire, engine, load_questionnaires
from dialogs.questionnaires.service import record_answer, start_or_resume
from locales.i18n import Catalogs
from storage import queries
from storage.models import ActionPlan, Person

from .conftest import NOW
from .files import read_csv, read_csvs, read_xlsx
from .world import JANUARY, World

Sessions = async_sessionmaker[AsyncSession]
REDCAP = ("redcap_data_dictionary", "redcap_events", "redcap_instrument_designation",
          "redcap_records")


async def export(sessions: Sessions, tmp_path: Path, municipalities: list[str],
                 **kwargs: object) -> ExportResult:
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=municipalities)
    return await run_export(sessions, scope, tmp_path / "out", "cli:tester", NOW, **kwargs)  # type: ignore[arg-type]


def _number(text: str) -> float | None:
    return float(text) if text != "" else None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


async def test_labelled_files_hold_the_csv_cells_with_variable_and_value_labels(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"], language="da")
    tables = read_csvs(result.folder)
    da = Catalogs.load().tr("da")
    checked = 0
    for key in ("baseline", "checkin"):
        q = world.questionnaires[key]
        name = f"responses_{key}_v{q.version}"
        table = tables[name]
        sav, sav_meta = pyreadstat.read_sav(str(result.folder / f"{name}.sav"))
        dta, dta_meta = pyreadstat.read_dta(str(result.folder / f"{name}.dta"))
        for frame, meta in ((sav, sav_meta), (dta, dta_meta)):
            assert list(frame.columns) == table.header
            assert list(frame["study_id"]) == table.column("study_id")
            labels = dict(zip(meta.column_names, meta.column_labels, strict=True))
            for item in q.items:
                wording = item.text.render(da)
                assert labels[item.key] == (wording if len(wording) <= 80 or meta is sav_meta
                                            else wording[:79] + "…")
                if item.type == "text":
                    continue
                for row, value in zip(table.rows, frame[item.key], strict=True):
                    expected = _number(row[item.key])
                    # Non-substantive answers are missing here too (empty in the CSV).
                    assert (value is None or math.isnan(value)) if expected is None \
                        else value == expected
                    checked += 1
        scale = q.items[0]
        assert sav_meta.variable_value_labels[scale.key] == {
            scale.min: scale.min_label.render(da), scale.max: scale.max_label.render(da)}
    assert checked > 50
    # The check-in's "I had no plan" (0) is declared missing in SPSS and tagged in Stata.
    name = "responses_checkin_v1"
    sav, meta = pyreadstat.read_sav(str(result.folder / f"{name}.sav"), user_missing=True)
    assert meta.missing_ranges["action_plan"] == [{"lo": 0.0, "hi": 0.0}]
    assert meta.variable_value_labels["action_plan"][0] == da._("I had no plan")
    codes = read_csv(result.folder / f"{name}.csv").column("action_plan_nonsub")
    assert "0" in codes
    assert [v == 0 for v in sav["action_plan"]] == [c == "0" for c in codes]
    dta, meta = pyreadstat.read_dta(str(result.folder / f"{name}.dta"), user_missing=True)
    assert [v == "a" for v in dta["action_plan"]] == [c == "0" for c in codes]
    assert meta.variable_value_labels["action_plan"]["a"] == da._("I had no plan")


async def test_nonsubstantive_answers_are_a_code_beside_the_value_never_the_value(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    tables = read_csvs(result.folder)
    plans = [r for r in tables["checkin_answers"].rows if r["item_key"] == "action_plan"]
    no_plan = [r for r in plans if r["value_nonsubstantive"] == "0"]
    assert no_plan
    assert len(no_plan) < len(plans)
    assert all(r["value"] == "" for r in no_plan)
    assert all(r["value_nonsubstantive"] == "" for r in plans if r["value"] != "")
    wide = {r["response_id"]: r for r in tables["responses_checkin_v1"].rows}
    for row in plans:
        cells = wide[row["response_id"]]
        assert (cells["action_plan"], cells["action_plan_nonsub"]) == (
            row["value"], row["value_nonsubstantive"])
    book = {(r["dataset"], r["variable"]): r for r in tables["codebook"].rows}
    assert book[("responses_checkin_v1", "action_plan")]["nonsubstantive_values"] == "0"
    assert book[("*", "nonsubstantive")]["description_da"]
    assert "action_plan_nonsub" in {r["variable"] for r in tables["codebook"].rows}


async def test_timing_and_safety_paradata_are_filled_wherever_they_happened(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    tables = read_csvs(result.folder)
    prompts = tables["prompts"].rows
    book = {(r["questionnaire_key"], r["variable"]): r for r in tables["codebook"].rows
            if r["kind"] == "item"}
    long = {}
    for name in ("checkin_answers", "evaluation_answers"):
        for row in tables[name].rows:
            long.setdefault(row["response_id"], []).append(row)
    filled = shown = 0
    for key in ("baseline", "checkin"):
        for row in tables[f"responses_{key}_v1"].rows:
            sent_before = sorted(
                (p["sent_at"], int(p["prompt_id"]), p) for p in prompts
                if p["response_id"] == row["response_id"] and p["sent_at"]
                and p["sent_at"] <= row["started_at"])
            if sent_before:
                led = sent_before[-1][2]
                assert (row["prompt_id"], row["scheduled_at"], row["sent_at"]) == (
                    led["prompt_id"], led["scheduled_at"], led["sent_at"])
                assert row["prompts_before_start"] == str(len(sent_before))
                filled += 1
            else:
                assert row["prompt_id"] == row["scheduled_at"] == row["sent_at"] == ""
            low = any(
                r["value"] != "" and book[(key, r["item_key"])]["safety_at_or_below"] != ""
                and float(r["value"]) <= float(book[(key, r["item_key"])]["safety_at_or_below"])
                for r in long.get(row["response_id"], []))
            assert (row["safety_shown_at"] != "") == low, row["response_id"]
            shown += low
            assert row["response_complete"] == ("1" if row["completed_at"] else "0")
    assert filled >= 3 * len(world.participants)
    assert shown > 0
    assert {r["response_complete"] for r in tables["checkin_answers"].rows} == {"0", "1"}
    assert {r["team_timezone"] for r in tables["participants"].rows} == {"Europe/Copenhagen"}
    # Every prompt of an opened questionnaire names its response.
    assert all(p["response_id"] for p in prompts if p["answered_started_at"])
    sent = [p for p in prompts if p["status"] == "sent"]
    assert all(p["sent_order"] for p in sent)
    assert not [p for p in prompts if p["status"] != "sent" and p["sent_order"]]


async def test_redcap_dictionary_events_and_records_agree(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    tables = read_csvs(result.folder)
    dictionary = tables["redcap_data_dictionary"]
    assert dictionary.header[:6] == [
        "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
        "Choices, Calculations, OR Slider Labels"]
    assert len(dictionary.header) == 18
    fields = {r["Variable / Field Name"]: r for r in dictionary.rows}
    assert dictionary.rows[0]["Variable / Field Name"] == "record_id"
    forms = list(dict.fromkeys(r["Form Name"] for r in dictionary.rows))
    designated = {(r["unique_event_name"], r["form"])
                  for r in tables["redcap_instrument_designation"].rows}
    assert {f"{e['event_name'].lower().replace(' ', '_')}_arm_1"
            for e in tables["redcap_events"].rows} == {e for e, _ in designated}
    records = tables["redcap_records"]
    assert records.header[:2] == ["record_id", "redcap_event_name"]
    for column in records.header[2:]:
        if column.endswith("_complete"):
            assert column.removesuffix("_complete") in forms
        else:
            assert column in fields, column
    responses = sum(len(tables[f"responses_{k}_v1"].rows) for k in ("baseline", "checkin"))
    assert len(records.rows) == responses
    assert {r["record_id"] for r in records.rows} <= {p.study_id for p in world.participants}
    for row in records.rows:
        event = row["redcap_event_name"]
        filled_forms = {fields[c]["Form Name"] for c, v in row.items()
                        if v != "" and c in fields and c != "record_id"}
        assert all((event, form) in designated for form in filled_forms), event
        for column, value in row.items():
            field = fields.get(column)
            if value == "" or field is None or field["Field Type"] != "radio":
                continue
            codes = {c.split(",", 1)[0].strip()
                     for c in field["Choices, Calculations, OR Slider Labels"].split("|")}
            assert value in codes, (column, value)
        completes = [row[f"{form}_complete"] for form in forms if row[f"{form}_complete"]]
        assert len(completes) == 1
        assert completes[0] in {"0", "2"}


MOOD = {
    "key": "mood", "version": "1", "title": "Mood", "intro": "Mood.",
    "items": [
        {"key": f"m{i}", "type": "scale", "text": f"Mood {i}?", "min": -3, "max": 3,
         "min_label": "Low", "max_label": "High"} for i in (1, 2, 3)
    ] + [{"key": "note", "type": "text", "text": "Anything else?", "required": False}],
    "scores": [{"key": "mood", "method": "mean", "items": ["m1", "m2", "m3"]}],
}
DANGEROUS = [start + text for start, text in zip(
    FORMULA_STARTS, ['HYPERLINK("http://x","y")', "cmd|' /C calc'!A0", "2+3", "SUM(1,2)",
                     "=1+1", "=1+1"], strict=True)]


async def test_formula_text_is_neutralised_in_every_csv_and_numbers_stay_numbers(
    sessions: Sessions, tmp_path: Path
) -> None:
    questionnaires = {**load_questionnaires(),
                      "mood": Questionnaire.model_validate(MOOD)}
    mood = questionnaires["mood"]
    async with sessions() as session, session.begin():
        place = await queries.create_municipality(session, "@Kommune", now=JANUARY)
        team = await queries.create_team(session, place, "=Hold 9", datetime(2027, 1, 7, 19),
                                         now=JANUARY)
        for n, text in enumerate(DANGEROUS):
            person = Person(telegram_user_id=6_100_000 + n, chat_id=6_200_000 + n,
                            created_at=JANUARY)
            session.add(person)
            await session.flush()
            membership = await queries.add_membership(session, person, team, now=JANUARY)
            at = JANUARY + timedelta(minutes=n)
            response = await start_or_resume(session, membership.id, mood, "mood", "da", at)
            for item, value in zip(mood.items, (-3.0, -2.0, -2.0, text), strict=True):
                await record_answer(session, response.id, item.key, value, at,
                                    questionnaire=mood)
            session.add(ActionPlan(membership_id=membership.id, week=1, what=text,
                                   how_much=text, when="-", days_per_week=2, confidence=5,
                                   created_at=at))
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=["@Kommune"])
    result = await run_export(sessions, scope, tmp_path / "out", "cli:tester", NOW,
                              questionnaires=questionnaires)
    cells: list[str] = []
    for path in result.folder.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            cells += [cell for row in csv.reader(fh) for cell in row]
    assert not [c for c in cells if c[:1] in FORMULA_STARTS and not _is_number(c)], \
        "a cell a spreadsheet would run as a formula"
    for text in DANGEROUS:
        assert cells.count("'" + text) >= 3  # the answer (long and wide) and the plan
    assert "'@Kommune" in cells
    assert "'=Hold 9" in cells
    tables = read_csvs(result.folder)
    long = [r for r in tables["evaluation_answers"].rows if r["item_key"] == "m1"]
    assert {r["value"] for r in long} == {"-3"}  # a negative number is a number
    wide = tables["responses_mood_v1"]
    assert set(wide.column("m2")) == {"-2"}
    # One rounding rule: -7/3 = -2.333… → -2.33 in the CSV, the workbook and both packages.
    assert set(wide.column("score_mood")) == {"-2.33"}
    assert round_score(engine.score(mood, {"m1": -3.0, "m2": -2.0, "m3": -2.0})["mood"]) \
        == -2.33
    sheet = read_xlsx(result.folder / "mestring-export.xlsx")["responses_mood_v1"]
    column = sheet[0].index("score_mood")
    assert {row[column] for row in sheet[1:]} == {-2.33}
    assert {row[sheet[0].index("m2")] for row in sheet[1:]} == {-2}
    sav, _ = pyreadstat.read_sav(str(result.folder / "responses_mood_v1.sav"))
    dta, _ = pyreadstat.read_dta(str(result.folder / "responses_mood_v1.dta"))
    assert set(sav["score_mood"]) == set(dta["score_mood"]) == {-2.33}
    rule = {r["variable"]: r for r in tables["codebook"].rows if r["kind"] == "rule"}
    assert "'" in rule["text_cells"]["description_en"]
    assert rule["text_cells"]["description_da"] != rule["text_cells"]["description_en"]


async def test_a_dataset_longer_than_a_sheet_is_left_out_of_the_workbook_with_a_note(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"], sheet_rows=30)
    tables = read_csvs(result.folder)
    sheets = read_xlsx(result.folder / "mestring-export.xlsx")
    long = {name for name, t in tables.items() if len(t.rows) + 1 > 30}
    assert "checkin_answers" in long
    assert sorted(result.not_in_workbook) == sorted(long - set(REDCAP))
    assert not long & set(sheets)
    notes = {row[0]: row for row in sheets["notes"][1:]}
    assert set(notes) == set(result.not_in_workbook)
    assert notes["checkin_answers"][1] == len(tables["checkin_answers"].rows)
    assert "participants" in sheets


async def test_scores_follow_one_rounding_rule_everywhere(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    tables = read_csvs(result.folder)
    q = world.questionnaires["baseline"]
    sheet = read_xlsx(result.folder / "mestring-export.xlsx")["responses_baseline_v1"]
    sav, _ = pyreadstat.read_sav(str(result.folder / "responses_baseline_v1.sav"))
    for i, row in enumerate(tables["responses_baseline_v1"].rows):
        values = {item.key: _number(row[item.key]) for item in q.items if item.type != "text"}
        for rule, value in engine.score(q, values).items():
            expected = round_score(value)
            cell = row[f"score_{rule}"]
            assert cell == ("" if expected is None else str(expected))
            in_sheet = sheet[i + 1][sheet[0].index(f"score_{rule}")]
            assert in_sheet == expected
            in_sav = sav[f"score_{rule}"][i]
            assert (math.isnan(in_sav) if expected is None else in_sav == expected)


def test_column_names_too_long_for_stata_are_cut_apart() -> None:
    long = "knowledge_balance_between_professionals_and_peers"
    names = stata_names([long, f"{long}_nonsub", "score_coping", "odd-name"])
    assert names["score_coping"] == "score_coping"
    assert names["odd-name"] == "odd_name"
    assert all(len(v) <= 32 for v in names.values())
    assert len({v.lower() for v in names.values()}) == 4
