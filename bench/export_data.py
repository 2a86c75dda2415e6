"""Bulk data for export benchmarks and the large-export tests: participants who answered the
baseline and six check-ins, with plans, attendance, progress and prompts, inserted with Core
`executemany` batches (the questionnaire service would take minutes for 100k answers).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.questionnaires import Questionnaire, load_questionnaires
from dialogs.questionnaires.model import ChoiceItem, ScaleItem, TextItem
from storage import queries
from storage.models import (
    ActionPlan,
    Answer,
    Attendance,
    Membership,
    ModuleProgress,
    OutboxMessage,
    Person,
    QuestionnaireResponse,
    Role,
)

START = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)
BATCH = 5000
_WORDS = ("ro", "søvn", "gåtur", "pause", "familie", "arbejde", "hvile", "smerter", "håb",
          "træthed", "venner", "hverdag", "æble", "øvelse", "åndedræt")


def answers_per_participant(qs: dict[str, Questionnaire]) -> int:
    return len(qs["baseline"].items) + 6 * len(qs["checkin"].items)


async def _flush(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(model), rows)
        rows.clear()


_LETTERS = "abcdefghijklmnopqrstuvwxyzæøå "


def _value(item: Any, rng: random.Random, text_words: int,
           text_chars: int | None) -> tuple[float | None, str | None]:
    if isinstance(item, ScaleItem):
        return float(rng.randint(item.min, item.max)), None
    if isinstance(item, ChoiceItem):
        return float(rng.choice(item.values)), None
    if isinstance(item, TextItem):
        if text_chars is not None:  # random letters: text that barely compresses
            return None, "".join(rng.choice(_LETTERS) for _ in range(text_chars))
        return None, " ".join(rng.choice(_WORDS) for _ in range(text_words))
    return float(rng.randint(0, 1)), None


async def generate(
    session: AsyncSession,
    participants: int,
    *,
    municipality: str = "Køge",
    teams: int = 4,
    seed: int = 1,
    text_words: int = 12,
    text_chars: int | None = None,
    questionnaires: dict[str, Questionnaire] | None = None,
) -> list[str]:
    """Insert `participants` participants spread over `teams` teams; return their study IDs.

    The caller owns the transaction. Persons and memberships get explicit ids (to link rows
    without reading them back): use a database nothing else writes persons into meanwhile."""
    qs = questionnaires or load_questionnaires()
    rng = random.Random(seed)
    place = await queries.get_municipality_by_name(session, municipality)
    if place is None:
        place = await queries.create_municipality(session, municipality, now=START)
    team_rows = [await queries.create_team(session, place, f"Hold B{place.id}-{n}",
                                           datetime(2027, 1, 7, 19, 0), now=START)
                 for n in range(teams)]
    sessions = {t.id: await queries.team_sessions(session, t.id) for t in team_rows}
    base = (await session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))) or 0
    study_ids: list[str] = []
    persons = [{"id": base + i + 1, "telegram_user_id": 9_000_000_000 + base + i,
                "chat_id": 9_100_000_000 + base + i, "display_name": f"Bench Person {base + i}",
                "created_at": START - timedelta(days=2)}
               for i in range(participants)]
    for start in range(0, len(persons), BATCH):
        await session.execute(insert(Person), persons[start:start + BATCH])
    first_member = (await session.scalar(select(Membership.id).order_by(
        Membership.id.desc()).limit(1))) or 0
    members: list[dict[str, Any]] = []
    for i, person in enumerate(persons):
        study_id = f"B-{place.id}{person['id']:07d}"
        study_ids.append(study_id)
        members.append({"id": first_member + i + 1, "person_id": person["id"],
                        "team_id": team_rows[i % teams].id, "role": Role.PARTICIPANT,
                        "study_id": study_id, "joined_at": START - timedelta(days=2)})
    for start in range(0, len(members), BATCH):
        await session.execute(insert(Membership), members[start:start + BATCH])

    response_id = (await session.scalar(select(QuestionnaireResponse.id).order_by(
        QuestionnaireResponse.id.desc()).limit(1))) or 0
    responses: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    others: dict[Any, list[dict[str, Any]]] = {ActionPlan: [], Attendance: [],
                                                ModuleProgress: [], OutboxMessage: []}
    for member in members:
        m = member["id"]
        webinars: Sequence[Any] = sessions[member["team_id"]]
        occasions = [("baseline", START)] + [
            (f"checkin-{n}", START + timedelta(weeks=n - 1, days=1)) for n in range(1, 7)]
        for occasion, at in occasions:
            q = qs["checkin" if occasion.startswith("checkin") else "baseline"]
            response_id += 1
            responses.append({
                "id": response_id, "membership_id": m, "questionnaire_key": q.key,
                "questionnaire_version": q.version, "occasion": occasion, "language": "da",
                "started_at": at, "completed_at": at + timedelta(minutes=3)})
            for index, item in enumerate(q.items):
                number, text = _value(item, rng, text_words, text_chars)
                answers.append({"response_id": response_id, "item_key": item.key,
                                "value_number": number, "value_text": text, "skipped": False,
                                "answered_at": at + timedelta(seconds=10 * index)})
            due = at - timedelta(hours=2)
            others[OutboxMessage].append({
                "person_id": member["person_id"], "chat_id": 9_000_000_000 + m,
                "kind": "checkin" if q.key == "checkin" else "evaluation",
                "dedup_key": f"bench:{m}:{occasion}", "due_at": due,
                "expires_at": due + timedelta(days=6), "status": "sent", "attempts": 1,
                "created_at": due,
                "sent_at": due, "payload": {"membership_id": m, "occasion": occasion,
                                            "plan": f"{due.isoformat()}|"}})
        for week in range(1, 7):
            others[ActionPlan].append({
                "membership_id": m, "week": week, "what": " ".join(rng.sample(_WORDS, 3)),
                "how_much": "20 min", "when": "morgen", "days_per_week": 3, "confidence": 8,
                "created_at": START + timedelta(weeks=week - 1, days=1)})
            others[Attendance].append({
                "session_id": webinars[week - 1].id, "membership_id": m,
                "attended": rng.random() < 0.8, "marked_at": webinars[week - 1].starts_at})
            others[ModuleProgress].append({
                "membership_id": m, "module_no": week,
                "opened_at": START + timedelta(weeks=week - 1),
                "done_at": START + timedelta(weeks=week - 1, days=2)})
        if len(answers) >= BATCH:
            await _flush(session, QuestionnaireResponse, responses)
            await _flush(session, Answer, answers)
            for model, rows in others.items():
                await _flush(session, model, rows)
    await _flush(session, QuestionnaireResponse, responses)
    await _flush(session, Answer, answers)
    for model, rows in others.items():
        await _flush(session, model, rows)
    return study_ids
