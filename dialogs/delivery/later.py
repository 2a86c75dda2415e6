""""Not now": ask again later, with no penalty.

The prompt is planned once more as a new outbox row (its own dedup key, so a double tap asks
once), the next day at a friendly local time and outside quiet hours, and it keeps the
original's expiry: a check-in is not asked after the next webinar has begun.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.delivery import keys, outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import PROMPT_KINDS
from dialogs.delivery.timeplan import next_day_at, quiet_until, zone_for
from storage.models import Membership, OutboxMessage, OutboxStatus, Person, Team


@dataclass(frozen=True)
class AskedLater:
    due_at: datetime
    tz: ZoneInfo


async def ask_again_later(
    session: AsyncSession,
    *,
    person_id: int,
    outbox_id: int,
    now: datetime,
    config: DeliveryConfig | None = None,
) -> AskedLater | None:
    """Plan the prompt of ``outbox_id`` again; None if it is not this person's prompt or its
    time is over."""
    config = config or DeliveryConfig()
    row = await session.get(OutboxMessage, outbox_id)
    person = await session.get(Person, person_id)
    if (row is None or person is None or row.person_id != person_id
            or row.kind not in PROMPT_KINDS or row.status != OutboxStatus.SENT):
        return None
    key = keys.asked_later(row.id)
    again = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedup_key == key))
    team = await _team(session, row)
    tz = zone_for(person, team)
    if again is not None:  # a double tap: the same answer
        return AskedLater(again.due_at, tz)
    due = next_day_at(now, config.ask_again_at, tz)
    start = person.quiet_start if person.quiet_start is not None else config.quiet_start
    end = person.quiet_end if person.quiet_end is not None else config.quiet_end
    due = quiet_until(due, tz, start, end) or due
    if row.expires_at is not None and due >= row.expires_at:
        return None
    payload = dict(row.payload or {}) | {"asked_later_from": row.id}
    payload.pop("plan", None)
    await outbox.add_rows(session, [outbox.NewRow(
        person_id=person_id, chat_id=row.chat_id, kind=row.kind, dedup_key=key, due_at=due,
        expires_at=row.expires_at, payload=payload, urgent=row.urgent,
    )], now)
    return AskedLater(due, tz)


async def _team(session: AsyncSession, row: OutboxMessage) -> Team | None:
    membership_id = (row.payload or {}).get("membership_id")
    if membership_id is None:
        return None
    membership = await session.get(Membership, int(membership_id))
    return await session.get(Team, membership.team_id) if membership is not None else None
