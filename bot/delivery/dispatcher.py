"""The dispatcher: claim due rows, decide, render, send, record — two short transactions.

1. claim a batch (one statement; see ``outbox.claim_due``),
2. decide and render each row in the recipient's language (expire / cancel / defer / send),
   in the claim's transaction,
3. send with no transaction open, paced to the outbox's share of Telegram's rate,
4. record every outcome in one more transaction.

A batch that fails before sending (a database error past its retries, a bug) is rolled back
with its claim, and one prepared behind a 429 or a stop is put back at once, so the next tick
sends their rows; a row that cannot be rendered fails alone. When recording fails, each
outcome is recorded on its own, so nothing sent is put back. Only a
crash between 1 and 4 leaves rows ``claimed``; their lease runs out and any worker sends them
again. That is the whole duplicate risk: at most the rows that were in flight.
Every transaction here is retried after ordinary concurrency (``storage.retry``).
Nothing here imports ``telegram``: a :class:`Sender` turns a screen into a Telegram call.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.budget import SendBudget
from bot.logs import pseudonym
from dialogs.course import open_modules
from dialogs.delivery import outbox
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import PACED_KINDS
from dialogs.delivery.pacing import Action, gate
from dialogs.outbox_render import Renderer, Skip
from dialogs.screen import Screen
from storage.clock import Clock
from storage.models import OutboxStatus
from storage.retry import retrying

log = logging.getLogger(__name__)
T = TypeVar("T")


# -- what a send can come to ------------------------------------------------------------------
@dataclass(frozen=True)
class Delivered:
    message_id: int | None


@dataclass(frozen=True)
class TooManyRequests:
    retry_after: float


@dataclass(frozen=True)
class Unreachable:
    """Blocked, deactivated or unknown chat: stop writing to this person."""

    reason: str


@dataclass(frozen=True)
class Transient:
    """Network error, timeout or 5xx: try again later."""

    reason: str


@dataclass(frozen=True)
class Rejected:
    """Telegram refused the message itself (400): sending it again would fail the same way."""

    reason: str


@dataclass(frozen=True)
class NotAttempted:
    """Held back because another send in the batch hit flood control."""


@dataclass(frozen=True)
class Abandoned:
    """Not tried: an earlier message to the same chat found the person unreachable."""

    reason: str


SendResult = (
    Delivered | TooManyRequests | Unreachable | Transient | Rejected | NotAttempted | Abandoned
)


class Sender(Protocol):
    async def send(self, chat_id: int, screen: Screen) -> SendResult: ...


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0  # back to pending after 429 / network error / 5xx
    deferred: int = 0  # quiet hours, pause, weekly cap
    expired: int = 0
    cancelled: int = 0
    failed: int = 0
    unreachable: int = 0  # people newly marked unreachable
    held: bool = False  # nothing done: flood control asked us to wait

    def __iadd__(self, other: DispatchReport) -> DispatchReport:
        for name in ("claimed", "sent", "retried", "deferred", "expired", "cancelled",
                     "failed", "unreachable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.held = self.held or other.held
        return self


@dataclass(frozen=True)
class _Outgoing:
    row_id: int
    chat_id: int
    person_id: int | None
    kind: str
    attempts: int
    paced: bool  # counts towards the person's weekly cap
    screen: Screen
    opens_module: tuple[int, int] | None


@dataclass
class _Batch:
    row_ids: list[int] = field(default_factory=list)
    outgoing: list[_Outgoing] = field(default_factory=list)
    report: DispatchReport = field(default_factory=DispatchReport)
    began: bool = False  # a send of it reached the sender (it can no longer be put back)


@dataclass
class _Lanes:
    """What the batches of one run share while sending: ``concurrency`` slots, each held by
    one worker for as long as it has rows, and one flood signal (a 429 stops them all)."""

    slots: asyncio.Semaphore
    flood: asyncio.Event = field(default_factory=asyncio.Event)
    stopped: bool = False  # the run was cancelled: a slot given up is taken by nobody


@dataclass
class _Before:
    """The batch sending before this one: its chats and people, and its results when done."""

    batch: _Batch
    task: asyncio.Task[dict[int, SendResult]]
    chats: frozenset[int] = frozenset()
    people: frozenset[int | None] = frozenset()

    def __post_init__(self) -> None:
        self.chats = frozenset(o.chat_id for o in self.batch.outgoing)
        self.people = frozenset(o.person_id for o in self.batch.outgoing) - {None}

    def holds(self, item: _Outgoing) -> bool:
        return item.chat_id in self.chats or item.person_id in self.people


def worker_name() -> str:
    """Unique per process and start, readable in the database (no personal data)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        sender: Sender,
        renderer: Renderer,
        clock: Clock,
        config: DeliveryConfig,
        *,
        worker: str | None = None,
        budget: SendBudget | None = None,
    ) -> None:
        self.sessions = sessions
        self.sender = sender
        self.renderer = renderer
        self.clock = clock
        self.config = config
        self.worker = worker or worker_name()
        self.hold_until: datetime | None = None
        rate = config.send_rate_per_second
        # Paced by the bot's one budget, after the replies (bot/budget.py); a dispatcher on
        # its own (a test's worker) gets a budget of its own at the configured rate.
        self._pacer = (budget or SendBudget(rate, reserve=0)) if rate else None

    def _holding(self) -> bool:
        return self.hold_until is not None and self.clock.now() < self.hold_until

    async def run_batch(self) -> DispatchReport:
        """Claim, send and record one batch of due rows."""
        if self._holding():
            return DispatchReport(held=True)
        batch = await self._next_batch(in_flight=None)
        if batch is None:
            return DispatchReport()
        results = await self._send_all(batch, self._lanes())
        await self._settle(batch, results)
        return batch.report

    def _lanes(self) -> _Lanes:
        return _Lanes(asyncio.Semaphore(self.config.concurrency))

    async def run_until_idle(self, max_batches: int = 1000) -> DispatchReport:
        """Batches until nothing is due now (or flood control says wait), two in flight:
        while one batch sends, the next is claimed and prepared, and it starts sending as
        soon as the first is out, while the first is recorded. A third is claimed only once
        the first is recorded, so a crash leaves at most two batches to their lease; a
        batch claimed but not yet sending is put back at once if anything fails or the task
        is cancelled."""
        if self._holding():
            return DispatchReport(held=True)
        total = DispatchReport()
        lanes = self._lanes()
        sending: _Batch | None = await self._next_batch(in_flight=None)
        task = self._start_sending(sending, lanes, None)
        upcoming: _Batch | None = None
        upcoming_task: asyncio.Task[dict[int, SendResult]] | None = None
        taken = 1 if sending is not None else 0
        try:
            while sending is not None:
                assert task is not None
                if taken < max_batches and not self._holding():
                    upcoming = await self._next_batch(in_flight=sending)
                    taken += upcoming is not None
                    # Its workers take the slots the batch before leaves as it runs out of
                    # rows: the connections stay busy across the batches' boundary.
                    upcoming_task = self._start_sending(
                        upcoming, lanes, _Before(sending, task))
                results = await task
                self._note_flood(results)
                if upcoming is not None and self._holding() and not upcoming.began:
                    assert upcoming_task is not None
                    upcoming_task.cancel()
                    await self._release_unsent(upcoming.row_ids)
                    upcoming, upcoming_task = None, None
                done, sending, task = sending, upcoming, upcoming_task
                upcoming, upcoming_task = None, None
                await self._settle(done, results)
                total += done.report
        except Exception:
            await self._put_back_or_finish(upcoming, upcoming_task)
            if task is not None and sending is not None:
                await self._finish_in_flight(task, sending)
            raise
        except BaseException:  # cancelled: the bot stops
            if task is not None:
                task.cancel()  # what was being sent waits for its lease
            if upcoming_task is not None:
                upcoming_task.cancel()
            if upcoming is not None and not upcoming.began:
                await self._release_unsent(upcoming.row_ids)
            raise
        return total

    def _start_sending(
        self, batch: _Batch | None, lanes: _Lanes, before: _Before | None
    ) -> asyncio.Task[dict[int, SendResult]] | None:
        if batch is None:
            return None
        return asyncio.ensure_future(self._send_all(batch, lanes, before=before))

    async def _put_back_or_finish(
        self, batch: _Batch | None, task: asyncio.Task[dict[int, SendResult]] | None
    ) -> None:
        """A batch claimed behind the one that failed: back at once if none of it was sent
        yet, else sent and recorded like the batch before it."""
        if batch is None:
            return
        if task is not None and batch.began:
            await self._finish_in_flight(task, batch)
            return
        if task is not None:
            task.cancel()
        await self._release_unsent(batch.row_ids)  # claimed, never sent: for the next tick

    async def _finish_in_flight(
        self, task: asyncio.Task[dict[int, SendResult]], batch: _Batch
    ) -> None:
        """After a failure elsewhere, the batch already sending goes out and is recorded."""
        try:
            results = await task
            self._note_flood(results)
            await self._settle(batch, results)
        except Exception:
            log.exception("outbox batch in flight left for its lease")

    async def _next_batch(self, *, in_flight: _Batch | None) -> _Batch | None:
        """Claim and prepare a batch (``None`` when nothing is due), in one transaction: a
        batch that fails before sending (a database error past its retries, a bug) is rolled
        back with its claim, so its rows are due again at once, for the next tick, not the
        lease. (One transaction, not two: each BEGIN, COMMIT and return to the pool is a
        round trip to the database thread, which waits for a turn of the busy event loop.)"""
        now = self.clock.now()

        async def claim_and_prepare(session: AsyncSession) -> _Batch | None:
            rows = await outbox.claim_due(session, now=now, worker=self.worker,
                                          limit=self.config.batch_size, lease=self.config.lease)
            if not rows:
                return None
            batch = await self._prepare(session, rows, now, in_flight)
            batch.row_ids = [row.id for row in rows]
            batch.report.claimed = len(rows)
            return batch

        return await retrying(lambda: self._in_transaction(claim_and_prepare),
                              what="outbox claim")

    async def _settle(self, batch: _Batch, results: dict[int, SendResult]) -> None:
        try:
            await retrying(lambda: self._in_transaction(
                lambda session: self._record(session, batch, results)), what="outbox record")
        except Exception:
            log.exception("outbox record failed: recording row by row")
            await self._record_one_by_one(batch, results)
            raise

    async def _in_transaction(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        async with self.sessions.begin() as session:
            return await work(session)

    async def _release_unsent(self, row_ids: Sequence[int]) -> None:
        try:
            await retrying(lambda: self._in_transaction(lambda session: outbox.release_all(
                session, row_ids, worker=self.worker)), what="outbox release")
        except Exception:  # the database is gone: the lease brings them back later
            log.exception("outbox release failed; %d rows wait for their lease", len(row_ids))

    async def _record_one_by_one(
        self, batch: _Batch, results: dict[int, SendResult]
    ) -> None:
        """What went out is recorded as sent; everything else goes back to pending."""
        now = self.clock.now()
        for item in batch.outgoing:
            result = results.get(item.row_id, NotAttempted())
            try:
                async with self.sessions.begin() as session:
                    if isinstance(result, Delivered):
                        await outbox.record_sent(session, item.row_id, now=now,
                                                 message_id=result.message_id)
                    else:
                        await outbox.settle_many(session, [outbox.Outcome(
                            item.row_id, OutboxStatus.PENDING, due_at=now)],
                            worker=self.worker)
            except Exception:
                log.exception("outbox row=%s left for its lease", item.row_id)

    # -- 2. decide and render ----------------------------------------------------------------
    async def _prepare(
        self, session: AsyncSession, rows: Sequence[outbox.Claimed], now: datetime,
        in_flight: _Batch | None,
    ) -> _Batch:
        batch = _Batch()
        outcomes: list[outbox.Outcome] = []
        facts = await self.renderer.load(session, rows)
        # The weekly cap concerns only the people with a paced row here: a batch of webinar
        # reminders (not paced) needs no read of anybody's week.
        recent = await outbox.paced_sent_since(
            session, {row.person_id for row in rows if row.person_id in facts.persons
                      and row.kind in PACED_KINDS}, PACED_KINDS, now - timedelta(days=7))
        # The batch still sending is not recorded yet: its paced messages count already.
        for item in in_flight.outgoing if in_flight is not None else ():
            if item.paced and item.person_id is not None:
                recent.setdefault(item.person_id, []).append(now)
        for row in rows:
            person = facts.persons.get(row.person_id or 0)
            if person is None:
                outcomes.append(_final(row.id, OutboxStatus.CANCELLED, "no recipient"))
                continue
            team = self.renderer.team_of(row, facts)
            decision = gate(
                kind=row.kind, urgent=row.urgent, expires_at=row.expires_at, now=now,
                on_join=bool((row.payload or {}).get("on_join")),
                person=self.renderer.person_time(person, team),
                recent_paced=recent.get(person.id, []), config=self.config,
            )
            if decision.action is Action.EXPIRE:
                outcomes.append(_final(row.id, OutboxStatus.EXPIRED, decision.reason))
            elif decision.action is Action.CANCEL:
                outcomes.append(_final(row.id, OutboxStatus.CANCELLED, decision.reason))
            elif decision.action is Action.DEFER:
                assert decision.until is not None
                outcomes.append(outbox.Outcome(row.id, OutboxStatus.PENDING,
                                               due_at=decision.until))
            else:
                try:
                    rendered = await self.renderer.render(session, row, facts)
                except DBAPIError:
                    raise  # the transaction is lost: the batch is retried or put back
                except Exception:
                    # A row that cannot be rendered must not hold back the rest, batch after
                    # batch: it fails alone, and the log says why.
                    log.exception("outbox row=%s kind=%s could not be rendered", row.id,
                                  row.kind)
                    outcomes.append(_final(row.id, OutboxStatus.FAILED, "could not render"))
                    continue
                if isinstance(rendered, Skip):
                    outcomes.append(_final(row.id, OutboxStatus.CANCELLED, rendered.reason))
                    continue
                paced = row.kind in PACED_KINDS and not (row.payload or {}).get("on_join")
                if paced:
                    # Count it now, so two rows for one person in one batch respect the cap.
                    recent.setdefault(person.id, []).append(now)
                batch.outgoing.append(_Outgoing(
                    row.id, row.chat_id, row.person_id, row.kind, row.attempts, paced,
                    rendered.screen, rendered.opens_module))
        # Everything decided without sending, in one statement per kind of outcome.
        await outbox.settle_many(session, outcomes, worker=self.worker)
        _count(batch.report, outcomes, released="deferred")
        return batch

    # -- 3. send -----------------------------------------------------------------------------
    async def _send_all(
        self, batch: _Batch, lanes: _Lanes, *, before: _Before | None = None
    ) -> dict[int, SendResult]:
        """Send a batch. ``before``: the batch sending ahead of it, whose workers hand over
        their slots as they run out of rows. A chat or person of that batch waits here until
        it is done: one chat's rows go in order, and a person it found unreachable gets
        nothing more (their rows here were claimed before that was known)."""
        results: dict[int, SendResult] = {}
        waiting: deque[list[_Outgoing]] = deque()  # each chat's rows, in order
        by_chat: dict[int, list[_Outgoing]] = {}
        for item in batch.outgoing:
            by_chat.setdefault(item.chat_id, []).append(item)
        waiting.extend(by_chat.values())

        async def gone_before(item: _Outgoing) -> bool:
            if before is None or not before.holds(item):
                return False
            return item.person_id in _gone(before.batch, await before.task)

        async def worker() -> None:
            # Each worker holds a slot while it goes straight on to the next chat, as the
            # bare send loop does: no hand-off through a semaphore between sends, which costs
            # a turn of the event loop each. A chat with more rows goes to the back of the line
            # after each (Telegram allows ~1/s per chat), its rows in order, one at a time.
            async with lanes.slots:
                try:
                    while waiting and not lanes.stopped:
                        await send_chat(*waiting.popleft())
                except asyncio.CancelledError:
                    lanes.stopped = True  # before the slot goes to the next batch's worker
                    raise

        async def send_chat(item: _Outgoing, *rest: _Outgoing) -> None:
            if await gone_before(item):
                for row in (item, *rest):
                    results[row.row_id] = Abandoned("unreachable in the batch before")
                return
            result = await self._send_one(batch, item, lanes.flood)
            results[item.row_id] = result
            if isinstance(result, TooManyRequests):
                lanes.flood.set()
            if isinstance(result, Unreachable):
                for later in rest:
                    results[later.row_id] = Abandoned(result.reason)
            elif rest:
                waiting.append(list(rest))

        await asyncio.gather(*(worker() for _ in range(min(self.config.concurrency,
                                                              len(waiting)))))
        return results

    async def _send_one(self, batch: _Batch, item: _Outgoing, flood: asyncio.Event
                        ) -> SendResult:
        """One row out, unless a send of this run hit flood control."""
        if flood.is_set():
            return NotAttempted()
        if self._pacer is not None:
            await self._pacer.spare()
            if flood.is_set():
                return NotAttempted()
        batch.began = True
        try:
            return await self.sender.send(item.chat_id, item.screen)
        except Exception as exc:  # a send must never kill the batch
            return Transient(type(exc).__name__)

    def _note_flood(self, results: dict[int, SendResult]) -> None:
        """A 429 holds the whole outbox for as long as Telegram asked."""
        waits = [r.retry_after for r in results.values() if isinstance(r, TooManyRequests)]
        if waits:
            self.hold_until = self.clock.now() + timedelta(seconds=max(waits))
            log.warning("outbox flood control: holding %.0fs", max(waits))

    # -- 4. record ---------------------------------------------------------------------------
    async def _record(
        self, session: AsyncSession, batch: _Batch, results: dict[int, SendResult]
    ) -> None:
        """Every outcome of the batch in one statement per kind of outcome: sent rows, the
        modules they opened (two), retries, failures, cancellations, people unreachable
        (two) — a bounded number of statements however large the batch."""
        now = self.clock.now()
        report = batch.report
        delivered: list[tuple[int, int | None]] = []
        opened: list[tuple[int, int]] = []
        outcomes: list[outbox.Outcome] = []
        unreachable: dict[int, str] = {}
        for item in batch.outgoing:
            result = results.get(item.row_id, NotAttempted())
            match result:
                case Delivered(message_id):
                    delivered.append((item.row_id, message_id))
                    if item.opens_module is not None:
                        opened.append(item.opens_module)
                    report.sent += 1
                case TooManyRequests(retry_after):
                    outcomes.append(outbox.Outcome(
                        item.row_id, OutboxStatus.PENDING,
                        due_at=now + timedelta(seconds=retry_after),
                        error=f"Too Many Requests: retry after {retry_after:.0f}"))
                case NotAttempted():
                    outcomes.append(outbox.Outcome(item.row_id, OutboxStatus.PENDING,
                                                   due_at=self.hold_until or now))
                case Abandoned(reason):
                    outcomes.append(_final(item.row_id, OutboxStatus.CANCELLED,
                                           f"{outbox.UNREACHABLE}: {reason}"))
                case Unreachable(reason):
                    outcomes.append(_final(item.row_id, OutboxStatus.FAILED, reason,
                                           attempted=True))
                    if item.person_id is not None:
                        unreachable.setdefault(item.person_id, reason)
                    log.info("outbox row=%s kind=%s to=%s unreachable: %s", item.row_id,
                             item.kind, pseudonym(item.chat_id), reason)
                case Transient(reason):
                    attempts = item.attempts + 1
                    if attempts >= self.config.max_attempts:
                        outcomes.append(_final(item.row_id, OutboxStatus.FAILED, reason,
                                               attempted=True))
                        log.warning("outbox row=%s kind=%s to=%s failed after %d attempts: %s",
                                    item.row_id, item.kind, pseudonym(item.chat_id), attempts,
                                    reason)
                    else:
                        outcomes.append(outbox.Outcome(
                            item.row_id, OutboxStatus.PENDING,
                            due_at=now + self.config.backoff(attempts), error=reason,
                            attempted=True))
                case Rejected(reason):
                    outcomes.append(_final(item.row_id, OutboxStatus.FAILED, reason,
                                           attempted=True))
                    log.error("outbox row=%s kind=%s rejected by Telegram: %s", item.row_id,
                              item.kind, reason)
        await outbox.record_sent_many(session, delivered, now=now)
        await open_modules(session, opened, now)
        await outbox.settle_many(session, outcomes, worker=self.worker)
        await outbox.mark_unreachable_many(session, unreachable, now=now)
        _count(report, outcomes, released="retried")
        report.unreachable += len(unreachable)
        if report.claimed:
            log.info("outbox batch claimed=%d sent=%d retried=%d deferred=%d expired=%d "
                     "cancelled=%d failed=%d", report.claimed, report.sent, report.retried,
                     report.deferred, report.expired, report.cancelled, report.failed)


def _final(row_id: int, status: OutboxStatus, reason: str, *,
           attempted: bool = False) -> outbox.Outcome:
    return outbox.Outcome(row_id, status, error=reason, attempted=attempted)


def _count(report: DispatchReport, outcomes: Sequence[outbox.Outcome], *,
           released: str) -> None:
    """Add outcomes to the report; a row back to pending counts as ``released`` ("deferred"
    by the gate before sending, "retried" after)."""
    for outcome in outcomes:
        match outcome.status:
            case OutboxStatus.PENDING:
                setattr(report, released, getattr(report, released) + 1)
            case OutboxStatus.EXPIRED:
                report.expired += 1
            case OutboxStatus.FAILED:
                report.failed += 1
            case _:
                report.cancelled += 1


def _gone(batch: _Batch, results: dict[int, SendResult]) -> frozenset[int]:
    """The people a batch found unreachable."""
    return frozenset(item.person_id for item in batch.outgoing if item.person_id is not None
                     and isinstance(results.get(item.row_id), Unreachable))
