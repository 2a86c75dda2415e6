"""Erasing a person removes every row they own (GDPR erasure relies on the FK cascades)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from dialogs.privacy import erased_tables
from storage import queries
from storage.engine import create_sessionmaker
from storage.models import (
    ActionPlan,
    Answer,
    Attendance,
    AuditLog,
    Base,
    Broadcast,
    Consent,
    CoordinatorGrant,
    DialogState,
    HelpfulTool,
    InviteAttempt,
    MemberPlan,
    Membership,
    ModuleProgress,
    OutboxMessage,
    Person,
    QuestionnaireResponse,
    Role,
    Team,
)
from storage.scrub import purge_erased_copies
from tests.storage.helpers import make_person, make_team

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

# Every table holding rows that belong to a person, directly or through a membership.
PERSON_OWNED = [
    Membership,
    Consent,
    CoordinatorGrant,
    DialogState,
    OutboxMessage,
    ModuleProgress,
    QuestionnaireResponse,
    Answer,
    ActionPlan,
    Attendance,
    HelpfulTool,
    MemberPlan,
]


async def _give_everything(session: AsyncSession, person: Person, team: Team, tag: str) -> None:
    """One row in every person-owned table."""
    membership = await queries.add_membership(session, person, team, now=NOW)
    response = QuestionnaireResponse(
        membership_id=membership.id,
        questionnaire_key="gse",
        questionnaire_version="1",
        occasion="baseline",
        language="da",
    )
    session.add_all(
        [
            Consent(person_id=person.id, version="2025-01", given=True, at=NOW),
            CoordinatorGrant(person_id=person.id, municipality_id=team.municipality_id,
                             granted_at=NOW),
            DialogState(person_id=person.id, state="checkin", data={"item": 2}, updated_at=NOW),
            OutboxMessage(
                person_id=person.id,
                chat_id=person.chat_id,
                kind="reminder",
                dedup_key=f"reminder:{tag}",
                payload={"session": 1},
                due_at=NOW,
                created_at=NOW,
            ),
            ModuleProgress(membership_id=membership.id, module_no=1, opened_at=NOW),
            response,
            ActionPlan(membership_id=membership.id, week=1, what="walk", confidence=8,
                       created_at=NOW),
            Attendance(session_id=team.sessions[0].id, membership_id=membership.id, attended=True,
                       marked_at=NOW),
            HelpfulTool(membership_id=membership.id, module_no=1, marked_at=NOW),
            MemberPlan(membership_id=membership.id, digest="0" * 32, planned_at=NOW),
        ]
    )
    await session.flush()
    session.add(Answer(response_id=response.id, item_key="q1", value_number=3, answered_at=NOW))
    await session.flush()


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {
        model.__tablename__: await session.scalar(select(func.count()).select_from(model))
        for model in PERSON_OWNED
    }


def test_every_person_owned_table_is_covered() -> None:
    # A new table with a path to persons must join PERSON_OWNED (and this test's data).
    def reaches_person(table_name: str, seen: frozenset[str] = frozenset()) -> bool:
        table = Base.metadata.tables[table_name]
        for fk in table.foreign_keys:
            target = fk.column.table.name
            if fk.ondelete != "CASCADE" or target in seen:
                continue
            if target == "persons" or reaches_person(target, seen | {table_name}):
                return True
        return False

    owned = {name for name in Base.metadata.tables if reaches_person(name)}
    assert owned == {model.__tablename__ for model in PERSON_OWNED}


@pytest.mark.parametrize("how", ["query", "orm"])
async def test_deleting_person_cascades(session: AsyncSession, how: str) -> None:
    async with session.begin():
        team = await make_team(session)
        leaving = await make_person(session)
        staying = await make_person(session)
        instructor = await make_person(session)
        await _give_everything(session, leaving, team, "leaving")
        await _give_everything(session, staying, team, "staying")
        instructor_membership = await queries.add_membership(
            session, instructor, team, Role.INSTRUCTOR, now=NOW
        )
        session.add_all(
            [
                AuditLog(at=NOW, actor="cli:root", action="export", subject="team:1"),
                InviteAttempt(key="k" * 64, at=NOW),
            ]
        )
    async with session.begin():
        before = await _counts(session)

    async with session.begin():
        if how == "query":
            assert await queries.delete_person(session, leaving.id)
        else:
            await session.delete(leaving)
    session.expunge_all()

    async with session.begin():
        after = await _counts(session)
        await _check_rest(session, leaving, staying, instructor_membership.id)
    for table in before:
        # Membership: the instructor's stays too; everything else: just the staying person's.
        expected = before[table] - 1 if table == "memberships" else before[table] // 2
        assert after[table] == expected, table


async def _check_rest(
    session: AsyncSession, leaving: Person, staying: Person, instructor_membership_id: int
) -> None:
    assert await queries.get_person_by_telegram_id(session, leaving.telegram_user_id) is None
    assert await session.get(Person, staying.id) is not None
    # Person-free tables are untouched.
    assert await session.scalar(select(func.count()).select_from(AuditLog)) == 1
    assert await session.scalar(select(func.count()).select_from(InviteAttempt)) == 1
    assert await session.get(Membership, instructor_membership_id) is not None


async def test_erased_instructor_leaves_team_data_in_place(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        instructor = await make_person(session)
        participant = await make_person(session)
        by = await queries.add_membership(session, instructor, team, Role.INSTRUCTOR, now=NOW)
        member = await queries.add_membership(session, participant, team, now=NOW)
        broadcast = Broadcast(team_id=team.id, author_membership_id=by.id, text="Hej",
                              created_at=NOW)
        mark = Attendance(
            session_id=team.sessions[0].id, membership_id=member.id, attended=True, marked_by=by.id,
            marked_at=NOW,
        )
        session.add_all([broadcast, mark])
    async with session.begin():
        assert await queries.delete_person(session, instructor.id)
    session.expunge_all()
    kept_broadcast = await session.get(Broadcast, broadcast.id)
    kept_mark = await session.get(Attendance, mark.id)
    assert kept_broadcast is not None
    assert kept_broadcast.author_membership_id is None
    assert kept_mark is not None
    assert kept_mark.marked_by is None


async def test_team_with_members_cannot_be_deleted(session: AsyncSession) -> None:
    async with session.begin():
        team = await make_team(session)
        await queries.add_membership(session, await make_person(session), team, now=NOW)
    with pytest.raises(IntegrityError):
        async with session.begin():
            await session.execute(Team.__table__.delete().where(Team.id == team.id))


async def test_delete_person_unknown_is_false(session: AsyncSession) -> None:
    async with session.begin():
        assert not await queries.delete_person(session, 424242)


def _wal_bytes(wal: Path) -> int:
    return wal.stat().st_size if wal.exists() else 0


async def test_after_an_erasure_the_database_keeps_no_copy_of_it(
    engine: AsyncEngine, db_url: str
) -> None:
    """SQLite: the write-ahead log is checkpointed and emptied. PostgreSQL: the erased tables
    are vacuumed, so the dead rows' space is marked free."""
    sessions = create_sessionmaker(engine)
    async with sessions.begin() as session:
        person = await make_person(session)
        await _give_everything(session, person, await make_team(session), "gone")
    async with sessions.begin() as session:
        assert await queries.delete_person(session, person.id)
    assert await purge_erased_copies(engine, erased_tables())

    if engine.dialect.name == "sqlite":
        assert _wal_bytes(Path(str(engine.url.database) + "-wal")) == 0
        return
    async with engine.connect() as connection:
        vacuumed = set(await connection.scalars(text(
            "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL")))
    assert set(erased_tables()) <= vacuumed
