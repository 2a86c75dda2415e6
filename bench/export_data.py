"""Bulk data for export benchmarks and the large-export tests, shaped like a real course:
Danish and Norwegian teams in their own languages, a baseline on joining, six weekly
check-ins (some skipped, some unfinished, reminders sent or cancelled, prompts that expired,
"not now" repeats), post and follow-up questionnaires that not everyone answers, safety
messages for low answers, attendance, module progress and action plans with free text.

Rows are inserted with Core `executemany` batches (the questionnaire service would take
minutes for 100k answers).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
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
_WORDS = {
    "da": ("ro", "søvn", "gåtur", "pause", "familie", "arbejde", "hvile", "smerter", "håb",
           "træthed", "venner", "hverdag", "æble", "øvelse", "åndedræt"),
    "nb": ("ro", "søvn", "gåtur", "pause", "familie", "jobb", "hvile", "smerter", "håp",
           "tretthet", "venner", "hverdag", "eple", "øvelse", "pust"),
}
_LETTERS = "abcdefghijklmnopqrstuvwxyzæøå "


@dataclass(frozen=True)
class Place:
    municipality: str
    country: str
    language: str
    timezone: str


PLACES = (Place("Køge", "DK", "da", "Europe/Copenhagen"),
          Place("Halden", "NO", "nb", "Europe/Oslo"))
# Who answers what, roughly as in a municipal course.
CHECKIN_ANSWERED = 0.85
CHECKIN_UNFINISHED = 0.05
REMINDED = 0.35
POST_ANSWERED = 0.75
FOLLOWUP_ANSWERED = 0.6
SKIP_OPTIONAL = 0.3


def answers_per_participant(qs: dict[str, Questionnaire]) -> float:
    """Expected answer rows per participant (to size a run by answers)."""
    return (len(qs["baseline"].items) + 6 * CHECKIN_ANSWERED * len(qs["checkin"].items)
            + POST_ANSWERED * len(qs["post"].items)
            + FOLLOWUP_ANSWERED * len(qs["followup"].items))


async def _flush(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(model), rows)
        rows.clear()


def _value(item: Any, rng: random.Random, words: tuple[str, ...], text_words: int,
           text_chars: int | None) -> tuple[float | None, str | None]:
    if isinstance(item, ScaleItem):
        return float(rng.randint(item.min, item.max)), None
    if isinstance(item, ChoiceItem):
        return float(rng.choice(item.values)), None
    if isinstance(item, TextItem):
        if text_chars is not None:  # random letters: text that barely compresses
            return None, "".join(rng.choice(_LETTERS) for _ in range(text_chars))
        return None, " ".join(rng.choice(words) for _ in range(text_words))
    return float(rng.randint(0, 1)), None


class _Rows:
    """Rows waiting for their batch insert, flushed together so foreign keys hold."""

    def __init__(self) -> None:
        self.by_model: dict[Any, list[dict[str, Any]]] = {
            QuestionnaireResponse: [], Answer: [], ActionPlan: [], Attendance: [],
            ModuleProgress: [], OutboxMessage: []}

    def add(self, model: Any, row: dict[str, Any]) -> None:
        self.by_model[model].append(row)

    async def flush(self, session: AsyncSession, *, force: bool = False) -> None:
        if force or len(self.by_model[Answer]) >= BATCH:
            for model, rows in self.by_model.items():
                await _flush(session, model, rows)


async def generate(
    session: AsyncSession,
    participants: int,
    *,
    teams: int = 4,
    seed: int = 1,
    text_words: int = 12,
    text_chars: int | None = None,
    questionnaires: dict[str, Questionnaire] | None = None,
    places: tuple[Place, ...] = PLACES,
) -> list[str]:
    """Insert `participants` participants spread over `teams` teams (alternating between
    `places`); return their study IDs.

    The caller owns the transaction. Rows get explicit ids (to link them without reading them
    back): use a database nothing else writes into meanwhile."""
    qs = questionnaires or load_questionnaires()
    rng = random.Random(seed)
    team_rows = []
    for n in range(teams):
        place = places[n % len(places)]
        municipality = await queries.get_municipality_by_name(session, place.municipality)
        if municipality is None:
            municipality = await queries.create_municipality(
                session, place.municipality, country=place.country, timezone=place.timezone,
                default_language=place.language, now=START)
        team = await queries.create_team(session, municipality, f"Hold B{n + 1}",
                                         datetime(2027, 1, 7, 19, 0), now=START)
        team_rows.append((team, place, await queries.team_sessions(session, team.id)))
    base = (await session.scalar(select(Person.id).order_by(Person.id.desc()).limit(1))) or 0
    persons = [{"id": base + i + 1, "telegram_user_id": 9_000_000_000 + base + i,
                "chat_id": 9_100_000_000 + base + i, "display_name": f"Bench Person {base + i}",
                "created_at": START - timedelta(days=2)}
               for i in range(participants)]
    for start in range(0, len(persons), BATCH):
        await session.execute(insert(Person), persons[start:start + BATCH])
    first_member = (await session.scalar(select(Membership.id).order_by(
        Membership.id.desc()).limit(1))) or 0
    members: list[dict[str, Any]] = []
    study_ids: list[str] = []
    for i, person in enumerate(persons):
        team, _, _ = team_rows[i % teams]
        study_id = f"B-{team.id:03d}{person['id']:07d}"
        study_ids.append(study_id)
        members.append({"id": first_member + i + 1, "person_id": person["id"],
                        "team_id": team.id, "role": Role.PARTICIPANT,
                        "study_id": study_id, "joined_at": START - timedelta(days=2)})
    for start in range(0, len(members), BATCH):
        await session.execute(insert(Membership), members[start:start + BATCH])

    ids = _Ids(
        response=(await session.scalar(select(QuestionnaireResponse.id).order_by(
            QuestionnaireResponse.id.desc()).limit(1))) or 0,
        outbox=(await session.scalar(select(OutboxMessage.id).order_by(
            OutboxMessage.id.desc()).limit(1))) or 0)
    rows = _Rows()
    for i, member in enumerate(members):
        _, place, webinars = team_rows[i % teams]
        _participant(rows, ids, member, place, webinars, qs, rng, text_words, text_chars)
        await rows.flush(session)
    await rows.flush(session, force=True)
    return study_ids


@dataclass
class _Ids:
    response: int
    outbox: int


def _participant(rows: _Rows, ids: _Ids, member: dict[str, Any], place: Place,
                 webinars: Any, qs: dict[str, Questionnaire], rng: random.Random,
                 text_words: int, text_chars: int | None) -> None:
    m, person_id = member["id"], member["person_id"]
    words = _WORDS[place.language]

    def prompt(kind: str, occasion: str, due: datetime, status: str, **payload: Any) -> int:
        ids.outbox += 1
        sent = status == "sent"
        rows.add(OutboxMessage, {
            "id": ids.outbox, "person_id": person_id, "chat_id": 9_100_000_000 + person_id,
            "kind": kind, "dedup_key": f"bench:{m}:{kind}:{occasion}:{ids.outbox}",
            "due_at": due, "expires_at": due + timedelta(days=6), "status": status,
            "attempts": 1 if sent else 0, "sent_at": due + timedelta(seconds=2) if sent else None,
            "created_at": due - timedelta(hours=1),
            "payload": {"membership_id": m, "occasion": occasion,
                        "plan": f"{due.isoformat()}|{(due + timedelta(days=6)).isoformat()}",
                        **payload}})
        return ids.outbox

    def answer(q: Questionnaire, occasion: str, at: datetime, *, stop_after: int | None = None
               ) -> None:
        ids.response += 1
        safety_at = None
        items = q.items if stop_after is None else q.items[:stop_after]
        for index, item in enumerate(items):
            when = at + timedelta(seconds=15 * index)
            skipped = not item.required and rng.random() < SKIP_OPTIONAL
            number, text = (None, None) if skipped else _value(item, rng, words, text_words,
                                                                text_chars)
            threshold = getattr(item, "safety_at_or_below", None)
            if safety_at is None and number is not None and threshold is not None \
                    and number <= threshold:
                safety_at = when
            rows.add(Answer, {"response_id": ids.response, "item_key": item.key,
                              "value_number": number, "value_text": text, "skipped": skipped,
                              "answered_at": when})
        finished = stop_after is None
        rows.add(QuestionnaireResponse, {
            "id": ids.response, "membership_id": m, "questionnaire_key": q.key,
            "questionnaire_version": q.version, "occasion": occasion,
            "language": place.language, "started_at": at,
            "completed_at": at + timedelta(seconds=15 * len(items)) if finished else None,
            "current_item": None if finished else q.items[stop_after or 0].key,
            "safety_shown_at": safety_at})

    # Baseline on joining: prompted at once, answered within the hour.
    joined = member["joined_at"]
    prompt("evaluation", "baseline", joined, "sent")
    answer(qs["baseline"], "baseline", joined + timedelta(minutes=rng.randint(5, 60)))
    for week in range(1, 7):
        webinar = webinars[week - 1]
        due = webinar.starts_at + timedelta(minutes=70)
        occasion = f"checkin-{week}"
        prompt("checkin", occasion, due, "sent", module_no=week)
        answered = rng.random() < CHECKIN_ANSWERED
        reminded = rng.random() < REMINDED
        reminder_due = due + timedelta(days=2)
        if answered and not reminded:
            at = due + timedelta(hours=rng.randint(1, 40))
            prompt("checkin_reminder", occasion, reminder_due, "cancelled", module_no=week)
        elif answered:
            prompt("checkin_reminder", occasion, reminder_due, "sent", module_no=week)
            at = reminder_due + timedelta(hours=rng.randint(1, 30))
        else:
            prompt("checkin_reminder", occasion, reminder_due,
                   rng.choice(("sent", "expired")), module_no=week)
            if rng.random() < 0.2:  # "not now", asked again later
                prompt("checkin", occasion, due + timedelta(days=1), "expired", module_no=week,
                       asked_later_from=ids.outbox)
        if answered:
            unfinished = rng.random() < CHECKIN_UNFINISHED
            answer(qs["checkin"], occasion, at, stop_after=2 if unfinished else None)
        rows.add(Attendance, {"session_id": webinar.id, "membership_id": m,
                              "attended": rng.random() < 0.8,
                              "marked_at": webinar.starts_at + timedelta(hours=1)})
        rows.add(ModuleProgress, {
            "membership_id": m, "module_no": week,
            "opened_at": webinar.starts_at - timedelta(days=6),
            "done_at": webinar.starts_at - timedelta(days=1) if rng.random() < 0.7 else None})
        if answered and rng.random() < 0.7:
            rows.add(ActionPlan, {
                "membership_id": m, "week": week, "what": " ".join(rng.sample(words, 3)),
                "how_much": f"{rng.choice((10, 20, 30))} min", "when": rng.choice(words),
                "days_per_week": rng.randint(1, 7), "confidence": rng.randint(3, 10),
                "created_at": due + timedelta(hours=2),
                "outcome": rng.choice(("done", "partly", "not")) if week < 6 else None,
                "outcome_at": due + timedelta(days=7) if week < 6 else None})
    last = webinars[5].starts_at
    for key, after, share in (("post", timedelta(days=1), POST_ANSWERED),
                              ("followup", timedelta(weeks=12), FOLLOWUP_ANSWERED)):
        due = last + after
        answered = rng.random() < share
        prompt("evaluation", key, due, "sent" if answered or rng.random() < 0.8 else "failed")
        if answered:
            answer(qs[key], key, due + timedelta(hours=rng.randint(1, 48)))
