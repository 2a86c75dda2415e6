"""Builders and clock-driving helpers shared by the delivery tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.dispatcher import Dispatcher, DispatchReport
from dialogs.delivery import outbox
from storage import queries
from storage.clock import FrozenClock
from storage.models import Membership, OutboxMessage, Person, Role, Team

WEBINAR_URL = "https://webinar.example.org/hold-1"
# FrozenClock starts Monday 2027-01-04 09:00 UTC; the first webinar is that Thursday.
FIRST_WEBINAR_LOCAL = datetime(2027, 1, 7, 19, 0)
# When make_team's rows are made: the FrozenClock's start, the moment the tests begin at.
CREATED = FrozenClock().now()


@dataclass(frozen=True)
class Member:
    person_id: int
    membership_id: int
    user_id: int


async def make_team(
    session: AsyncSession,
    *,
    name: str = "Hold 1",
    timezone: str = "Europe/Copenhagen",
    country: str = "DK",
    first_local: datetime = FIRST_WEBINAR_LOCAL,
    offsets: Sequence[int] | None = None,
    webinar_url: str | None = WEBINAR_URL,
) -> Team:
    municipality = await queries.create_municipality(
        session, f"Kommune {name}", now=CREATED, country=country, timezone=timezone)
    return await queries.create_team(session, municipality, name, first_local, now=CREATED,
                                     webinar_url=webinar_url, reminder_offsets_minutes=offsets)


async def add_members(
    session: AsyncSession,
    team: Team,
    user_ids: Sequence[int],
    *,
    joined_at: datetime,
    locale: str | None = None,
    role: Role = Role.PARTICIPANT,
) -> list[Member]:
    members = []
    for user_id in user_ids:
        person = Person(telegram_user_id=user_id, chat_id=user_id, locale=locale,
                        display_name=None, created_at=joined_at)
        session.add(person)
        await session.flush()
        membership = await queries.add_membership(session, person, team, role, now=joined_at)
        members.append(Member(person.id, membership.id, user_id))
    await session.flush()
    return members


async def rows(
    sessions: async_sessionmaker[AsyncSession], *, kind: str | None = None
) -> list[OutboxMessage]:
    async with sessions() as session:
        stmt = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind is not None:
            stmt = stmt.where(OutboxMessage.kind == kind)
        return list(await session.scalars(stmt))


async def membership(sessions: async_sessionmaker[AsyncSession], mid: int) -> Membership:
    async with sessions() as session:
        found = await session.get(Membership, mid)
        assert found is not None
        return found


async def run_timeline(
    dispatcher: Dispatcher,
    clock: FrozenClock,
    until: datetime,
    *,
    on_advance: object = None,
    max_hops: int = 10_000,
) -> DispatchReport:
    """Dispatch, then jump the clock to the next moment anything is due, until ``until``.

    ``on_advance(delta)`` is told each jump (the sandbox moves the local Bot API's clock too).
    """
    total = DispatchReport()
    for _ in range(max_hops):
        total += await dispatcher.run_until_idle()
        async with dispatcher.sessions() as session:
            wake = await outbox.next_wake(session)
        if dispatcher.hold_until is not None and dispatcher.hold_until > clock.now():
            wake = max(wake or dispatcher.hold_until, dispatcher.hold_until)
        if wake is None or wake > until:
            return total
        delta = max(wake - clock.now(), timedelta(seconds=1))
        clock.advance(delta)
        if callable(on_advance):
            on_advance(delta)
    raise AssertionError("the timeline did not settle")
