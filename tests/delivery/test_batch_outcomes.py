"""A batch's outcomes are recorded together, and two batches are in flight at most: while one
sends, the next is claimed and prepared. Nothing is sent twice, nothing stays claimed after a
failure, and a batch costs the same number of statements however many rows it has."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from bot.delivery.dispatcher import Dispatcher
from bot.local_api import LocalBotApi
from bot.local_api.limits import Limits
from dialogs.delivery import keys, outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from dialogs.occasion import Occasion
from storage.clock import FrozenClock
from storage.models import Membership, MembershipStatus, OutboxMessage, OutboxStatus, Person
from tests.delivery.world import World, fan_out, open_world

FIRST = 320_001
# Every outcome a batch can have, in the order the rows are due (row 0 first).
OUTCOMES = ("transient", "sent", "expired", "gone before", "left the team", "paused",
            "blocked", "unrenderable")


@pytest.fixture
async def world(db_url: str) -> AsyncIterator[World]:
    async with open_world(db_url, LocalBotApi(limits=Limits.disabled())) as world:
        yield world


def users(count: int, start: int = FIRST) -> list[int]:
    return list(range(start, start + count))


async def statuses(world: World) -> Counter[str]:
    async with world.sessions() as session:
        return Counter(str(s) for s in await session.scalars(select(OutboxMessage.status)))


async def mixed_batch(
    world: World, clock: FrozenClock, copies: int, *, start: int = FIRST
) -> dict[str, list[int]]:
    """``copies`` rows of every outcome; returns the row ids by outcome. The transient rows are
    due first, so with one send at a time the 5xx answers land on them."""
    now = clock.now()
    chats = {name: users(copies, start + 1000 * i) for i, name in enumerate(OUTCOMES)}
    for chat in (c for group in chats.values() for c in group):
        user = world.api.add_user(chat, "P")
        user.started, user.blocked = True, chat in chats["blocked"]
    await fan_out(world.sessions, [c for group in chats.values() for c in group], now)
    async with world.sessions.begin() as session:
        found = {row.chat_id: row for row in await session.scalars(select(OutboxMessage))}
        for i, chat in enumerate(chats["transient"]):
            found[chat].due_at = now - timedelta(minutes=10) + timedelta(seconds=i)
        for chat in chats["expired"]:
            found[chat].expires_at = now - timedelta(minutes=1)
        for chat in chats["unrenderable"]:
            found[chat].payload = {**found[chat].payload, "module_no": "not a number"}
        people = {p.chat_id: p for p in await session.scalars(select(Person))}
        for chat in chats["gone before"]:
            people[chat].unreachable_at = now - timedelta(days=1)
        for chat in chats["paused"]:
            people[chat].paused_until = now + timedelta(days=2)
        await session.execute(update(Membership).where(Membership.id.in_(
            [found[c].payload["membership_id"] for c in chats["left the team"]]
        )).values(status=MembershipStatus.LEFT))
        # A blocked person's later row, not in this batch: cancelled once they are found gone.
        await outbox.add_rows(session, [outbox.NewRow(
            person_id=found[chat].person_id, chat_id=chat, kind=Kind.WEBINAR_REMINDER,
            dedup_key=f"later:{chat}", due_at=now + timedelta(days=1))
            for chat in chats["blocked"]], now)
    world.api.faults.server_errors(copies, methods=["sendMessage"])
    return {name: [found[c].id for c in group] for name, group in chats.items()}


# Kinds whose message depends on a check (module not yet open, check-in not yet answered, the
# check-in prompt sent): the batch loads those facts once, not per row.
CHECKED = (Kind.MODULE_OPEN, Kind.CHECKIN, Kind.CHECKIN_REMINDER)


async def every_check(world: World, clock: FrozenClock, row_ids: list[int]) -> None:
    """For the people of these rows, a row of each kind in ``CHECKED``, due now."""
    now = clock.now()
    async with world.sessions.begin() as session:
        rows = list(await session.scalars(select(OutboxMessage).where(
            OutboxMessage.id.in_(row_ids))))
        new = []
        for row in rows:
            mid = int(row.payload["membership_id"])
            base = {"membership_id": mid, "module_no": 1}
            asks = {**base, "occasion": str(Occasion.checkin(1))}
            for kind, key, payload in (
                (Kind.MODULE_OPEN, f"open:{mid}", {**base, "module_no": 2}),
                (Kind.CHECKIN, f"check:{mid}", asks),
                (Kind.CHECKIN_REMINDER, f"again:{mid}", asks),
            ):
                new.append(outbox.NewRow(person_id=row.person_id, chat_id=row.chat_id,
                                         kind=kind, dedup_key=key, due_at=now, payload=payload))
            # The check-in reminder goes only after the prompt went out.
            new.append(outbox.NewRow(person_id=row.person_id, chat_id=row.chat_id,
                                     kind=Kind.CHECKIN, dedup_key=keys.checkin_prompt(mid, 1),
                                     due_at=now + timedelta(days=30), payload=asks))
        await outbox.add_rows(session, new, now)
        await session.execute(update(OutboxMessage).where(OutboxMessage.dedup_key.in_(
            [keys.checkin_prompt(int(r.payload["membership_id"]), 1) for r in rows]
        )).values(status=OutboxStatus.SENT, sent_at=now - timedelta(days=2)))


@contextmanager
def counting_statements(world: World) -> Iterator[list[str]]:
    """Every statement sent to the database (an executemany counts once)."""
    engine = world.sessions.kw["bind"].sync_engine
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def one_at_a_time(world: World, clock: FrozenClock, **config: Any) -> Dispatcher:
    return world.dispatcher(clock, DeliveryConfig(
        send_rate_per_second=None, concurrency=1, **config), worker="w1")


def failing_on(call: int, real: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """``real``, but call number ``call`` raises (a bug at that step of that batch)."""
    calls = 0

    async def wrapper(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise RuntimeError(f"a bug in call {call}")
        return await real(*args)

    return wrapper


async def reminders_for(world: World, clock: FrozenClock, count: int) -> list[int]:
    """``count`` people who started the bot, each with a webinar reminder due now."""
    chats = users(count)
    for chat in chats:
        world.api.add_user(chat, "P").started = True
    await fan_out(world.sessions, chats, clock.now())
    return chats


async def test_a_batch_with_every_outcome_records_each_once(
    world: World, clock: FrozenClock
) -> None:
    ids = await mixed_batch(world, clock, copies=2)
    report = await one_at_a_time(world, clock).run_batch()

    async with world.sessions() as session:
        rows = {r.id: r for r in await session.scalars(select(OutboxMessage))}
        blocked = list(await session.scalars(select(Person.unreachable_at).where(
            Person.chat_id.in_([rows[i].chat_id for i in ids["blocked"]]))))
    expected = {
        "transient": (OutboxStatus.PENDING, 1), "sent": (OutboxStatus.SENT, 1),
        "expired": (OutboxStatus.EXPIRED, 0), "gone before": (OutboxStatus.CANCELLED, 0),
        "left the team": (OutboxStatus.CANCELLED, 0), "paused": (OutboxStatus.PENDING, 0),
        "blocked": (OutboxStatus.FAILED, 1), "unrenderable": (OutboxStatus.FAILED, 0),
    }
    for name, (status, attempts) in expected.items():
        assert [(rows[i].status, rows[i].attempts) for i in ids[name]] == \
            [(status, attempts)] * 2, name
        assert all(rows[i].claimed_by is None or status is not OutboxStatus.PENDING
                   for i in ids[name])
    assert all(rows[i].last_error for i in ids["transient"])  # Telegram's words for the 5xx
    assert all(rows[i].due_at > clock.now() for i in ids["transient"] + ids["paused"])
    assert all(at is not None for at in blocked)
    later = [r for r in rows.values() if r.dedup_key.startswith("later:")]
    assert [(r.status, r.last_error.split(":")[0]) for r in later] == \
        [(OutboxStatus.CANCELLED, outbox.UNREACHABLE)] * 2
    assert (report.claimed, report.sent, report.retried, report.deferred, report.expired,
            report.cancelled, report.failed, report.unreachable) == (16, 2, 2, 2, 2, 4, 4, 2)
    assert world.sends_per_chat() == Counter({rows[i].chat_id: 1 for i in ids["sent"]})


async def test_a_batch_costs_the_same_statements_however_many_rows(
    world: World, clock: FrozenClock
) -> None:
    counts = []
    for copies, start in ((1, FIRST), (4, FIRST + 100_000)):
        ids = await mixed_batch(world, clock, copies, start=start)
        await every_check(world, clock, ids["sent"])
        with counting_statements(world) as seen:
            report = await one_at_a_time(world, clock, batch_size=100).run_batch()
        assert report.claimed == copies * (len(OUTCOMES) + len(CHECKED))
        assert report.sent == copies * (1 + len(CHECKED))  # every check passed: each went out
        counts.append(len(seen))
    # Claim, facts, the weekly cap, one per kind of outcome, the transactions' own: the same
    # for 8 rows and for 32, and a few, not a few per row.
    assert counts[0] == counts[1] <= 25, counts


async def test_the_pipeline_sends_each_row_once_and_leaves_none_claimed_after_a_failure(
    world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = await reminders_for(world, clock, 23)
    dispatcher = one_at_a_time(world, clock, batch_size=5)
    # The third batch is claimed while the second sends.
    monkeypatch.setattr(dispatcher.renderer, "load", failing_on(3, dispatcher.renderer.load))
    with pytest.raises(RuntimeError):
        await dispatcher.run_until_idle()
    # The two batches in flight went out and were recorded; the third is back at once.
    assert await statuses(world) == Counter({"sent": 10, "pending": 13})
    assert max(world.sends_per_chat().values()) == 1

    report = await dispatcher.run_until_idle()  # the next tick, same moment
    assert report.sent == 13
    assert world.sends_per_chat() == Counter({chat: 1 for chat in chats})


async def test_when_recording_fails_the_batch_in_flight_still_goes_out_once(
    world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    chats = await reminders_for(world, clock, 12)
    dispatcher = one_at_a_time(world, clock, batch_size=4)
    monkeypatch.setattr(dispatcher, "_record", failing_on(1, dispatcher._record))
    with pytest.raises(RuntimeError):
        await dispatcher.run_until_idle()
    # The first batch recorded row by row, the second (sending meanwhile) as usual.
    assert await statuses(world) == Counter({"sent": 8, "pending": 4})
    monkeypatch.undo()
    await dispatcher.run_until_idle()
    assert world.sends_per_chat() == Counter({chat: 1 for chat in chats})


async def test_a_stopped_dispatcher_puts_the_next_batch_back_at_once(
    world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    await reminders_for(world, clock, 10)
    dispatcher = one_at_a_time(world, clock, batch_size=4)
    next_batch = dispatcher._next_batch
    prepared = asyncio.Event()
    never = asyncio.Event()

    async def noting(**kwargs: Any) -> Any:
        batch = await next_batch(**kwargs)
        if kwargs["in_flight"] is not None:
            prepared.set()  # the second batch is claimed and prepared
        return batch

    async def hanging(chat_id: int, screen: Any) -> Any:
        await never.wait()  # the first batch's sends never finish

    monkeypatch.setattr(dispatcher, "_next_batch", noting)
    monkeypatch.setattr(dispatcher.sender, "send", hanging)
    running = asyncio.create_task(dispatcher.run_until_idle())
    await prepared.wait()
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    # The batch that was sending waits for its lease; the one only prepared is back at once.
    assert await statuses(world) == Counter({"claimed": 4, "pending": 6})


async def test_the_weekly_cap_counts_the_batch_still_sending(
    world: World, clock: FrozenClock
) -> None:
    chat = FIRST
    world.api.add_user(chat, "P").started = True
    await fan_out(world.sessions, [chat], clock.now())
    async with world.sessions.begin() as session:
        row = await session.scalar(select(OutboxMessage))
        assert row is not None
        await outbox.add_rows(session, [outbox.NewRow(
            person_id=row.person_id, chat_id=chat, kind=Kind.MODULE_OPEN, dedup_key=f"m{n}",
            due_at=clock.now(), payload={"membership_id": row.payload["membership_id"],
                                         "module_no": n}) for n in (1, 2)], clock.now())
        await session.delete(row)
    report = await one_at_a_time(world, clock, batch_size=1, weekly_cap=1).run_until_idle()
    assert report.sent == 1  # the second module's message waits: the first is still sending
    assert world.sends_per_chat() == Counter({chat: 1})
