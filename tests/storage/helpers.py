"""Small builders shared by storage tests."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import count

from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.models import Municipality, Person, Team

_numbers = count(1000)
# What the injected clock would say: every stored timestamp comes from it, never the wall clock.
NOW = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


async def make_person(session: AsyncSession, telegram_user_id: int | None = None) -> Person:
    user_id = telegram_user_id if telegram_user_id is not None else next(_numbers)
    person = Person(telegram_user_id=user_id, chat_id=user_id, created_at=NOW)
    session.add(person)
    await session.flush()
    return person


async def make_team(
    session: AsyncSession, name: str = "Hold 1", municipality: Municipality | None = None
) -> Team:
    if municipality is None:
        municipality = await queries.create_municipality(
            session, f"Kommune {next(_numbers)}", now=NOW)
    return await queries.create_team(session, municipality, name, datetime(2025, 3, 6, 19, 0),
                                     now=NOW)
