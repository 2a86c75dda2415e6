"""Exports read back with `csv` and openpyxl: rows, columns, codebook, scope, dates, wide vs
long, scores, and no Telegram id or name anywhere. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.exports import (
    ExportError,
    ExportResult,
    ExportScope,
    coordinator_scope,
    export_for_chat,
    resolve_scope,
    run_export,
)
from dialogs.exports.datasets import round_score
from dialogs.questionnaires import engine as q_engine
from locales.i18n import Catalogs
from storage.models import AuditLog, CoordinatorGrant, Person

from .conftest import NOW
from .files import Table, all_text, read_csvs, read_xlsx, zip_members
from .world import FORMULA, HOPES, World

Sessions = async_sessionmaker[AsyncSession]
DATASETS = {"participants", "checkin_answers", "evaluation_answers", "responses_baseline_v1",
            "responses_checkin_v1", "scores", "action_plans", "attendance", "module_progress",
            "prompts", "codebook", "export_info"}
REDCAP = {"redcap_data_dictionary", "redcap_events", "redcap_instrument_designation",
          "redcap_records"}
LABELLED = {f"responses_{k}_v1{ext}" for k in ("baseline", "checkin") for ext in (".dta", ".sav")}


async def export(sessions: Sessions, tmp_path: Path, municipalities: list[str],
                 **kwargs: object) -> ExportResult:
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=municipalities, **kwargs)  # type: ignore[arg-type]
    return await run_export(sessions, scope, tmp_path / "out", "cli:tester", NOW)


def _number(text: str) -> float | None:
    return float(text) if text != "" else None


async def test_every_file_reads_back_with_its_rows_and_columns(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    seen: list[str] = []
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=["Køge", "Halsnæs"])
    # A worker process writes the workbook while the CSVs are written, as at scale.
    result = await run_export(sessions, scope, tmp_path / "out", "cli:tester", NOW,
                              lambda p: seen.append(p.dataset), parallel=True)
    tables = read_csvs(result.folder)
    assert set(tables) == DATASETS | REDCAP
    assert set(seen) >= DATASETS | {"mestring-export.xlsx", "redcap"}
    assert {p.name for p in result.folder.iterdir()} >= LABELLED
    for name, table in tables.items():
        if name in DATASETS:
            assert len(table.rows) == result.counts[name], name
        assert len(set(table.header)) == len(table.header), f"{name}: a column twice"
    n = len(world.participants)
    qs = world.questionnaires
    checkin_items = len(qs["checkin"].items)
    assert result.counts["participants"] == n
    # Two whole check-ins and half of a third per participant.
    assert result.counts["checkin_answers"] == n * (2 * checkin_items + 2)
    assert result.counts["evaluation_answers"] == n * len(qs["baseline"].items)
    assert result.counts["responses_checkin_v1"] == 3 * n
    assert result.counts["responses_baseline_v1"] == n
    assert result.counts["scores"] == n * len(qs["baseline"].scores)
    assert result.counts["prompts"] == 6 * n  # webinar reminders are not prompts
    for name in ("action_plans", "attendance", "module_progress"):
        assert result.counts[name] == n
    baseline = tables["responses_baseline_v1"]
    assert baseline.header[-len(qs["baseline"].scores):] == [
        f"score_{s.key}" for s in qs["baseline"].scores]
    assert [c for c in baseline.header if c in {i.key for i in qs["baseline"].items}] == [
        i.key for i in qs["baseline"].items]
    # Awkward text survives: Danish letters, quotes and a line break in one cell; a formula
    # is neutralised with a leading apostrophe.
    hopes = tables["evaluation_answers"].rows
    assert HOPES in [r["value_text"] for r in hopes]
    assert "'" + FORMULA in [r["value_text"] for r in hopes]
    assert {r["municipality"] for r in tables["participants"].rows} == {"Køge", "Halsnæs"}

    # The workbook holds the same tables, one sheet each, with typed cells.
    sheets = read_xlsx(result.folder / "mestring-export.xlsx")
    assert set(sheets) == DATASETS
    for name in DATASETS:
        table = tables[name]
        assert list(sheets[name][0]) == table.header
        assert len(sheets[name]) - 1 == len(table.rows), name
    answers = sheets["evaluation_answers"]
    column = answers[0].index("value_text")
    assert "'" + FORMULA in [row[column] for row in answers[1:]]  # text, as in the CSV
    started = sheets["responses_baseline_v1"][1][baseline.header.index("started_at")]
    assert isinstance(started, datetime)

    # One zip with every file in a folder, the same bytes.
    assert len(result.archives) == 1
    members = zip_members(result.archives)
    assert {Path(name).name for name in members} == {p.name for p in result.files}
    for path in result.files:
        assert members[f"{result.folder.name}/{path.name}"] == path.read_bytes()
        assert path.stat().st_mode & 0o077 == 0, "export files are private"

    async with sessions() as session:
        audit = (await session.scalars(select(AuditLog).where(AuditLog.action == "export"))).one()
    assert audit.actor == "cli:tester"
    assert audit.details["counts"] == result.counts
    assert audit.details["scope"]["municipality_ids"] == sorted(scope.municipality_ids)


async def test_the_codebook_covers_every_variable_with_its_wording(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    tables = read_csvs(result.folder)
    book = tables["codebook"]
    described = {(r["dataset"], r["variable"]) for r in book.rows}
    for name, table in tables.items():
        missing = [c for c in table.header if (name, c) not in described]
        assert not missing, f"{name}: {missing} not in the codebook"
    items = {(r["questionnaire_key"], r["questionnaire_version"], r["variable"])
             for r in book.rows if r["kind"] == "item"}
    for name in ("checkin_answers", "evaluation_answers"):
        for row in tables[name].rows:
            key = (row["questionnaire_key"], row["questionnaire_version"], row["item_key"])
            assert key in items, f"{key} has no item row"
    catalogs = Catalogs.load()
    by_item = {(r["dataset"], r["variable"]): r for r in book.rows}
    for key, q in world.questionnaires.items():
        for item in q.items:
            row = by_item[(f"responses_{key}_v{q.version}", item.key)]
            for locale in ("da", "nb", "en"):
                assert row[f"text_{locale}"] == item.text.render(catalogs.tr(locale))
            assert row["item_type"] == item.type
        for rule in q.scores:
            row = by_item[(f"responses_{key}_v{q.version}", f"score_{rule.key}")]
            assert rule.method in row["scoring"]
            assert all(i in row["scoring"] for i in rule.items)
    coping = by_item[("responses_checkin_v1", "coping")]
    assert (coping["scale_min"], coping["scale_max"]) == ("0", "10")
    assert coping["min_label_da"]
    assert coping["max_label_nb"]
    plan = by_item[("responses_checkin_v1", "action_plan")]
    assert plan["values_en"].startswith("3=I did all of it")
    assert plan["values_da"] != plan["values_en"]


async def test_a_municipality_sees_only_its_own_study_ids(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge"])
    text = all_text(result.folder, result.archives)
    for p in world.participants:
        if p.municipality == "Køge":
            assert p.study_id in text
        else:
            assert p.study_id not in text, "another municipality's participant"
    assert "Halsnæs" not in text
    one_team = await export(sessions, tmp_path / "team", ["Køge"], teams=["Hold 3"])
    tables = read_csvs(one_team.folder)
    assert {r["team"] for r in tables["checkin_answers"].rows} == {"Hold 3"}
    assert {r["study_id"] for r in tables["participants"].rows} == {
        p.study_id for p in world.participants if p.team == "Hold 3"}


async def test_a_coordinator_is_held_to_the_granted_municipalities(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        coordinator = Person(telegram_user_id=1234, chat_id=1234, created_at=NOW)
        session.add(coordinator)
        await session.flush()
        session.add(CoordinatorGrant(person_id=coordinator.id,
                                     municipality_id=world.municipality_ids["Køge"],
                                     granted_at=NOW))
        await session.flush()
        scope = await coordinator_scope(session, coordinator.id)
        assert scope.municipality_ids == {world.municipality_ids["Køge"]}
        with pytest.raises(ExportError, match="Halsnæs"):
            await coordinator_scope(session, coordinator.id, municipalities=["Halsnæs"])
        with pytest.raises(ExportError):
            await coordinator_scope(session, coordinator.id, teams=["Hold 1"])  # Halsnæs's
    # A forged team id outside the municipalities exports nothing of it.
    forged = ExportScope(frozenset({world.municipality_ids["Køge"]}),
                         frozenset({world.team_ids["Halsnæs/Hold 1"]}))
    result = await run_export(sessions, forged, tmp_path, "P-TEST01", NOW)
    assert result.counts["participants"] == 0
    assert result.counts["checkin_answers"] == 0


async def test_the_date_range_filters_by_when_things_happened(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    since = datetime(2027, 2, 1, tzinfo=UTC)
    until = datetime(2027, 4, 1, tzinfo=UTC)
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"], since=since, until=until)
    tables = read_csvs(result.folder)
    n = len(world.participants)
    assert {r["occasion"] for r in tables["checkin_answers"].rows} == {"checkin-2", "checkin-3"}
    assert result.counts["evaluation_answers"] == 0
    assert result.counts["action_plans"] == 0  # made in January
    assert result.counts["participants"] == n  # the denominator is not dated
    for row in tables["prompts"].rows:
        due = datetime.fromisoformat(row["scheduled_at"].replace("Z", "+00:00"))
        assert since <= due < until
    assert {r["occasion"] for r in tables["prompts"].rows} == {"checkin-2"}


async def test_wide_agrees_with_long_and_scores_with_the_engine(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    tables = read_csvs(result.folder)
    long: dict[tuple[str, str], dict[str, str]] = {}
    for name in ("checkin_answers", "evaluation_answers"):
        for row in tables[name].rows:
            long[(row["response_id"], row["item_key"])] = row
    scores = {(r["response_id"], r["score_key"]): r["value"] for r in tables["scores"].rows}
    for key in ("baseline", "checkin"):
        q = world.questionnaires[key]
        wide: Table = tables[f"responses_{key}_v{q.version}"]
        for row in wide.rows:
            values: dict[str, float | None] = {}
            for item in q.items:
                answer = long.get((row["response_id"], item.key))
                if answer is None:
                    assert row[item.key] == ""
                    continue
                expected = answer["value_text"] if item.type == "text" else answer["value"]
                assert row[item.key] == expected
                assert (item.key in row["skipped_items"].split()) == (answer["skipped"] == "1")
                if item.type != "text":
                    values[item.key] = _number(answer["value"])
            for rule, value in q_engine.score(q, values).items():
                for cell in (row[f"score_{rule}"], scores.get((row["response_id"], rule), "")):
                    if value is None:
                        assert cell == ""
                    else:
                        assert cell == str(round_score(value)), (rule, cell, value)
    prompts = tables["prompts"].rows
    reminded = [r for r in prompts if r["occasion"] == "checkin-1"]
    assert {r["reminders_sent"] for r in reminded} == {"1"}
    assert {r["prompts_sent_for_occasion"] for r in reminded} == {"2"}
    assert all(r["answered_at"] and r["questionnaire_version"] == "1" for r in reminded)
    pending = [r for r in prompts if r["occasion"] == "post"]
    assert pending
    assert all(r["status"] == "pending" and r["answered_at"] == "" for r in pending)


async def test_no_telegram_id_chat_id_or_name_reaches_any_file(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"])
    text = all_text(result.folder, result.archives)
    assert world.participants[0].study_id in text  # the scan reads real content
    leaked = [secret for secret in world.secrets if secret in text]
    assert not leaked
    async with sessions() as session:
        audit = (await session.scalars(select(AuditLog))).all()
    assert not [s for s in world.secrets if any(s in str(a.details) for a in audit)]


async def test_without_free_text_no_typed_words_are_exported(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    result = await export(sessions, tmp_path, ["Køge", "Halsnæs"], free_text=False)
    tables = read_csvs(result.folder)
    text = all_text(result.folder, result.archives)
    assert HOPES.splitlines()[0] not in text
    assert FORMULA not in text
    assert "gå en tur" not in text
    assert set(tables["evaluation_answers"].column("value_text")) == {""}
    assert set(tables["responses_baseline_v1"].column("hopes")) == {""}
    assert set(tables["action_plans"].column("what")) == {""}
    assert tables["action_plans"].column("confidence")[0] == "8"  # the rest stays
    info = {r["key"]: r["value"] for r in tables["export_info"].rows}
    assert info["free_text_included"] == "0"


async def test_a_chat_export_is_zip_parts_only(
    sessions: Sessions, world: World, tmp_path: Path
) -> None:
    async with sessions() as session:
        scope = await resolve_scope(session, municipalities=["Køge"])
    chat = tmp_path / "chat"
    parts = await export_for_chat(sessions, scope, "P-COORD1", NOW, chat)
    assert parts == sorted(chat.glob("*"))  # the loose files are gone
    assert all(p.suffix == ".zip" for p in parts)
    members = zip_members(parts)
    assert any(name.endswith("/checkin_answers.csv") for name in members)
