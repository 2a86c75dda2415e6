"""A small, realistic world for export tests: two municipalities, three teams, participants who
answered the baseline and check-ins through the questionnaire service, plans, attendance,
module progress and the outbox rows that prompted them.

Telegram ids, chat ids and names are distinctive strings, so a test can prove that none of them
reaches an export file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.questionnaires import Questionnaire, load_questionnaires
from dialogs.questionnaires.model import ChoiceItem, ScaleItem, TextItem, YesNoItem
from dialogs.questionnaires.service import SKIPPED, record_answer, start_or_resume
from storage import queries
from storage.models import (
    ActionPlan,
    Attendance,
    Membership,
    ModuleProgress,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    Team,
)

JANUARY = datetime(2027, 1, 8, 10, 0, tzinfo=UTC)
MARCH = datetime(2027, 3, 5, 10, 0, tzinfo=UTC)
CREATED = JANUARY - timedelta(days=7)  # when teams, people and memberships are made
# Free text that is hard on files: Danish letters, quotes, a line break, a formula.
HOPES = 'At få mere ro på – "én dag ad gangen"\nog æøå ÆØÅ'
FORMULA = "=1+1"


@dataclass
class Participant:
    study_id: str
    telegram_user_id: int
    chat_id: int
    display_name: str
    membership_id: int
    municipality: str
    team: str


@dataclass
class World:
    participants: list[Participant] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)  # must not appear in any export file
    team_ids: dict[str, int] = field(default_factory=dict)
    municipality_ids: dict[str, int] = field(default_factory=dict)
    questionnaires: dict[str, Questionnaire] = field(default_factory=dict)

    def in_municipality(self, name: str) -> list[Participant]:
        return [p for p in self.participants if p.municipality == name]


_TEAMS = (("Køge", "Hold 3", "da"), ("Køge", "Hold 4", "da"), ("Halsnæs", "Hold 1", "nb"))
_PER_TEAM = 3


def _value(item: object, n: int) -> float | str | object:
    if isinstance(item, ScaleItem):
        return float(item.min + (n % (item.max - item.min + 1)))
    if isinstance(item, ChoiceItem):
        return float(item.values[n % len(item.values)])
    if isinstance(item, YesNoItem):
        return float(n % 2)
    assert isinstance(item, TextItem)
    return HOPES if n % 2 == 0 else FORMULA


async def answer_all(
    session: AsyncSession, q: Questionnaire, membership_id: int, occasion: str, language: str,
    at: datetime, n: int, *, stop_after: int | None = None, skip_optional: bool = False,
) -> None:
    response = await start_or_resume(session, membership_id, q, occasion, language, at)
    for index, item in enumerate(q.items):
        if stop_after is not None and index >= stop_after:
            break
        value = SKIPPED if (skip_optional and not item.required) else _value(item, n + index)
        await record_answer(session, response.id, item.key, value,  # type: ignore[arg-type]
                            at + timedelta(seconds=index), questionnaire=q)


async def build_world(session: AsyncSession) -> World:
    world = World(questionnaires=load_questionnaires())
    qs = world.questionnaires
    number = 0
    for municipality_name, team_name, language in _TEAMS:
        municipality = await queries.get_municipality_by_name(session, municipality_name)
        if municipality is None:
            municipality = await queries.create_municipality(
                session, municipality_name, default_language=language, now=CREATED)
        world.municipality_ids[municipality_name] = municipality.id
        team: Team = await queries.create_team(session, municipality, team_name,
                                               datetime(2027, 1, 7, 19, 0), now=CREATED)
        world.team_ids[f"{municipality_name}/{team_name}"] = team.id
        sessions = await queries.team_sessions(session, team.id)
        instructor = Person(telegram_user_id=5_550_000_000 + team.id, chat_id=5_660_000_000
                            + team.id, display_name=f"Instruktør Sørensen{team.id}",
                            created_at=CREATED)
        session.add(instructor)
        await session.flush()
        world.secrets += [str(instructor.telegram_user_id), str(instructor.chat_id),
                          str(instructor.display_name)]
        await queries.add_membership(session, instructor, team, Role.INSTRUCTOR, now=CREATED)
        for _ in range(_PER_TEAM):
            number += 1
            person = Person(telegram_user_id=7_770_000_000 + number,
                            chat_id=8_880_000_000 + number,
                            display_name=f"Deltager Ærbødig{number:02d}",
                            telegram_language_code=language, created_at=CREATED)
            session.add(person)
            await session.flush()
            membership: Membership = await queries.add_membership(session, person, team,
                                                                  now=CREATED)
            p = Participant(membership.study_id, person.telegram_user_id, person.chat_id,
                            str(person.display_name), membership.id, municipality_name,
                            team_name)
            world.participants.append(p)
            world.secrets += [str(p.telegram_user_id), str(p.chat_id), p.display_name]
            m = membership.id
            await answer_all(session, qs["baseline"], m, "baseline", language, JANUARY, number,
                             skip_optional=number % 3 == 0)
            await answer_all(session, qs["checkin"], m, "checkin-1", language,
                             JANUARY + timedelta(days=1), number)
            await answer_all(session, qs["checkin"], m, "checkin-2", language, MARCH, number + 1)
            # An unfinished check-in: two of four items.
            await answer_all(session, qs["checkin"], m, "checkin-3", language,
                             MARCH + timedelta(days=7), number, stop_after=2)
            session.add_all([
                ActionPlan(membership_id=m, week=1, what="gå en tur", how_much="20 minutter",
                           when="efter frokost", days_per_week=4, confidence=8,
                           created_at=JANUARY + timedelta(days=1, hours=1), outcome="partly",
                           outcome_at=JANUARY + timedelta(days=8)),
                Attendance(session_id=sessions[0].id, membership_id=m, attended=number % 2 == 1,
                           marked_at=sessions[0].starts_at + timedelta(hours=1)),
                ModuleProgress(membership_id=m, module_no=1, opened_at=JANUARY - timedelta(days=4),
                               done_at=JANUARY - timedelta(days=2)),
            ])
            session.add_all(_outbox(person, m, sessions[0].starts_at))
    await session.flush()
    return world


def _outbox(person: Person, membership_id: int, webinar_1: datetime) -> list[OutboxMessage]:
    due = webinar_1 + timedelta(minutes=70)
    rows = [
        ("evaluation", "baseline", JANUARY - timedelta(hours=1), OutboxStatus.SENT, None),
        ("checkin", "checkin-1", due, OutboxStatus.SENT, 1),
        ("checkin_reminder", "checkin-1", due + timedelta(days=2), OutboxStatus.SENT, 1),
        ("checkin", "checkin-2", MARCH - timedelta(hours=2), OutboxStatus.SENT, 2),
        ("checkin_reminder", "checkin-2", MARCH + timedelta(days=2), OutboxStatus.CANCELLED, 2),
        ("evaluation", "post", MARCH + timedelta(days=40), OutboxStatus.PENDING, None),
        # Not a prompt: never in the prompts file.
        ("webinar_reminder", None, webinar_1 - timedelta(days=1), OutboxStatus.SENT, 1),
    ]
    out = []
    for kind, occasion, at, status, module_no in rows:
        payload: dict[str, object] = {"membership_id": membership_id,
                                      "plan": f"{at.isoformat()}|"}
        if occasion:
            payload["occasion"] = occasion
        if module_no:
            payload["module_no"] = module_no
        out.append(OutboxMessage(
            person_id=person.id, chat_id=person.chat_id, kind=kind,
            dedup_key=f"m{membership_id}:{kind}:{occasion}:{at.timestamp()}", payload=payload,
            due_at=at, expires_at=at + timedelta(days=6), status=status, created_at=at,
            attempts=1 if status == OutboxStatus.SENT else 0,
            sent_at=at + timedelta(seconds=3) if status == OutboxStatus.SENT else None,
            telegram_message_id=4_440_000 + membership_id if status == OutboxStatus.SENT
            else None,
        ))
    return out
