"""What the bot is waiting for from a person, kept in the database.

Process memory is lost on restart and not shared between workers; this row is neither.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DialogState

AWAITING_NAME = "awaiting_name"


@dataclass(frozen=True)
class Waiting:
    state: str
    data: dict[str, Any]


async def waiting_for(session: AsyncSession, person_id: int) -> Waiting | None:
    row = await session.get(DialogState, person_id)
    return None if row is None else Waiting(row.state, dict(row.data or {}))


async def wait_for(
    session: AsyncSession, person_id: int, state: str, now: datetime, **data: Any
) -> None:
    row = await session.get(DialogState, person_id)
    if row is None:
        session.add(DialogState(person_id=person_id, state=state, data=data, updated_at=now))
    else:
        row.state, row.data, row.updated_at = state, dict(data), now


async def stop_waiting(session: AsyncSession, person_id: int) -> None:
    await session.execute(delete(DialogState).where(DialogState.person_id == person_id))
