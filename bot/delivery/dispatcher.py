"""The dispatcher: claim due rows, decide, render, send, record — three short transactions.

1. claim a batch (one statement; see ``outbox.claim_due``),
2. decide and render each row in the recipient's language (expire / cancel / defer / send),
3. send with no transaction open, paced to the outbox's share of Telegram's rate,
4. record every outcome in one more transaction.

A batch that fails before sending (a database error past its retries, a bug) puts its rows
back at once, so the next tick sends them; a row that cannot be rendered fails alone. When
recording fails, each outcome is recorded on its own, so nothing sent is put back. Only a
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
from dialogs.outbox_render import Rendered, Renderer, Skip
from dialogs.screen import Screen
from storage.clock import Clock
from storage.models import OutboxMessage, OutboxStatus
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
    screen: Screen
    opens_module: tuple[int, int] | None


@dataclass
class _Batch:
    outgoing: list[_Outgoing] = field(default_factory=list)
    report: DispatchReport = field(default_factory=DispatchReport)


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

    async def run_batch(self) -> DispatchReport:
        """Claim, send and record one batch of due rows."""
        now = self.clock.now()
        if self.hold_until is not None and now < self.hold_until:
            return DispatchReport(held=True)
        rows = await retrying(lambda: self._in_transaction(lambda session: outbox.claim_due(
            session, now=now, worker=self.worker, limit=self.config.batch_size,
            lease=self.config.lease)), what="outbox claim")
        if not rows:
            return DispatchReport()
        try:
            batch = await retrying(lambda: self._in_transaction(
                lambda session: self._prepare(session, rows, now)), what="outbox prepare")
        except BaseException:
            # Nothing was sent: back to pending at once, for the next tick (not the lease).
            await self._release_unsent([row.id for row in rows])
            raise
        batch.report.claimed = len(rows)
        results = await self._send_all(batch.outgoing)
        try:
            await retrying(lambda: self._in_transaction(
                lambda session: self._record(session, batch, results)), what="outbox record")
        except Exception:
            log.exception("outbox record failed: recording row by row")
            await self._record_one_by_one(batch, results)
            raise
        return batch.report

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
                        await outbox.release(session, item.row_id, worker=self.worker,
                                             due_at=now)
            except Exception:
                log.exception("outbox row=%s left for its lease", item.row_id)

    async def run_until_idle(self, max_batches: int = 1000) -> DispatchReport:
        """Batches until nothing is due now (or flood control says wait)."""
        total = DispatchReport()
        for _ in range(max_batches):
            report = await self.run_batch()
            total += report
            if report.held or report.claimed == 0:
                break
        return total

    # -- 2. decide and render ----------------------------------------------------------------
    async def _prepare(
        self, session: AsyncSession, rows: Sequence[OutboxMessage], now: datetime
    ) -> _Batch:
        batch = _Batch()
        facts = await self.renderer.load(session, rows)
        recent = await outbox.paced_sent_since(
            session, facts.persons, PACED_KINDS, now - timedelta(days=7))
        for row in rows:
            person = facts.persons.get(row.person_id or 0)
            if person is None:
                await self._finish(session, row, OutboxStatus.CANCELLED, "no recipient", batch)
                continue
            team = self.renderer.team_of(row, facts)
            decision = gate(
                kind=row.kind, urgent=row.urgent, expires_at=row.expires_at, now=now,
                on_join=bool((row.payload or {}).get("on_join")),
                person=self.renderer.person_time(person, team),
                recent_paced=recent.get(person.id, []), config=self.config,
            )
            if decision.action is Action.EXPIRE:
                await self._finish(session, row, OutboxStatus.EXPIRED, decision.reason, batch)
            elif decision.action is Action.CANCEL:
                await self._finish(session, row, OutboxStatus.CANCELLED, decision.reason, batch)
            elif decision.action is Action.DEFER:
                assert decision.until is not None
                await outbox.release(session, row.id, worker=self.worker, due_at=decision.until)
                batch.report.deferred += 1
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
                    await self._finish(session, row, OutboxStatus.FAILED, "could not render",
                                       batch)
                    continue
                if isinstance(rendered, Skip):
                    await self._finish(session, row, OutboxStatus.CANCELLED, rendered.reason,
                                       batch)
                    continue
                if row.kind in PACED_KINDS and not (row.payload or {}).get("on_join"):
                    # Count it now, so two rows for one person in one batch respect the cap.
                    recent.setdefault(person.id, []).append(now)
                batch.outgoing.append(self._outgoing(row, rendered))
        return batch

    @staticmethod
    def _outgoing(row: OutboxMessage, rendered: Rendered) -> _Outgoing:
        return _Outgoing(row.id, row.chat_id, row.person_id, row.kind, rendered.screen,
                         rendered.opens_module)

    async def _finish(
        self, session: AsyncSession, row: OutboxMessage, status: OutboxStatus, reason: str,
        batch: _Batch,
    ) -> None:
        await outbox.finish(session, row.id, status, worker=self.worker, error=reason)
        if status is OutboxStatus.EXPIRED:
            batch.report.expired += 1
        elif status is OutboxStatus.FAILED:
            batch.report.failed += 1
        else:
            batch.report.cancelled += 1

    # -- 3. send -----------------------------------------------------------------------------
    async def _send_all(self, outgoing: Sequence[_Outgoing]) -> dict[int, SendResult]:
        results: dict[int, SendResult] = {}
        flood = asyncio.Event()
        slots = asyncio.Semaphore(self.config.concurrency)
        by_chat: dict[int, list[_Outgoing]] = {}
        for item in outgoing:
            by_chat.setdefault(item.chat_id, []).append(item)

        async def one_chat(items: list[_Outgoing]) -> None:
            # One chat's rows go in order, one at a time (Telegram allows ~1/s per chat).
            gone: Unreachable | None = None
            for item in items:
                if gone is not None:
                    results[item.row_id] = Abandoned(gone.reason)
                    continue
                if flood.is_set():
                    results[item.row_id] = NotAttempted()
                    continue
                async with slots:
                    if self._pacer is not None:
                        await self._pacer.spare()
                    if flood.is_set():
                        results[item.row_id] = NotAttempted()
                        continue
                    try:
                        result = await self.sender.send(item.chat_id, item.screen)
                    except Exception as exc:  # a send must never kill the batch
                        result = Transient(type(exc).__name__)
                results[item.row_id] = result
                if isinstance(result, TooManyRequests):
                    flood.set()
                elif isinstance(result, Unreachable):
                    gone = result

        await asyncio.gather(*(one_chat(items) for items in by_chat.values()))
        return results

    # -- 4. record ---------------------------------------------------------------------------
    async def _record(
        self, session: AsyncSession, batch: _Batch, results: dict[int, SendResult]
    ) -> None:
        now = self.clock.now()
        report = batch.report
        waits = [r.retry_after for r in results.values() if isinstance(r, TooManyRequests)]
        if waits:
            self.hold_until = now + timedelta(seconds=max(waits))
            log.warning("outbox flood control: holding %.0fs", max(waits))
        unreachable_people: set[int] = set()
        delivered: list[tuple[int, int | None]] = []
        opened: list[tuple[int, int]] = []
        for item in batch.outgoing:
            result = results.get(item.row_id, NotAttempted())
            match result:
                case Delivered(message_id):
                    delivered.append((item.row_id, message_id))
                    if item.opens_module is not None:
                        opened.append(item.opens_module)
                    report.sent += 1
                case TooManyRequests(retry_after):
                    await outbox.release(
                        session, item.row_id, worker=self.worker,
                        due_at=now + timedelta(seconds=retry_after),
                        error=f"Too Many Requests: retry after {retry_after:.0f}")
                    report.retried += 1
                case NotAttempted():
                    await outbox.release(session, item.row_id, worker=self.worker,
                                         due_at=self.hold_until or now)
                    report.retried += 1
                case Abandoned(reason):
                    await outbox.finish(session, item.row_id, OutboxStatus.CANCELLED,
                                        worker=self.worker,
                                        error=f"{outbox.UNREACHABLE}: {reason}")
                    report.cancelled += 1
                case Unreachable(reason):
                    await outbox.finish(session, item.row_id, OutboxStatus.FAILED,
                                        worker=self.worker, error=reason, attempted=True)
                    report.failed += 1
                    if item.person_id is not None and item.person_id not in unreachable_people:
                        unreachable_people.add(item.person_id)
                        await outbox.mark_unreachable(session, item.person_id, now=now,
                                                      reason=reason)
                        report.unreachable += 1
                    log.info("outbox row=%s kind=%s to=%s unreachable: %s", item.row_id,
                             item.kind, pseudonym(item.chat_id), reason)
                case Transient(reason):
                    attempts = await self._attempts(session, item.row_id) + 1
                    if attempts >= self.config.max_attempts:
                        await outbox.finish(session, item.row_id, OutboxStatus.FAILED,
                                            worker=self.worker, error=reason, attempted=True)
                        report.failed += 1
                        log.warning("outbox row=%s kind=%s to=%s failed after %d attempts: %s",
                                    item.row_id, item.kind, pseudonym(item.chat_id), attempts,
                                    reason)
                    else:
                        await outbox.release(
                            session, item.row_id, worker=self.worker,
                            due_at=now + self.config.backoff(attempts), error=reason,
                            attempted=True)
                        report.retried += 1
                case Rejected(reason):
                    await outbox.finish(session, item.row_id, OutboxStatus.FAILED,
                                        worker=self.worker, error=reason, attempted=True)
                    report.failed += 1
                    log.error("outbox row=%s kind=%s rejected by Telegram: %s", item.row_id,
                              item.kind, reason)
        # What went out, the bulk of a batch, is recorded in one statement, and the modules
        # those messages opened in two.
        await outbox.record_sent_many(session, delivered, now=now)
        await open_modules(session, opened, now)
        if report.claimed:
            log.info("outbox batch claimed=%d sent=%d retried=%d deferred=%d expired=%d "
                     "cancelled=%d failed=%d", report.claimed, report.sent, report.retried,
                     report.deferred, report.expired, report.cancelled, report.failed)

    async def _attempts(self, session: AsyncSession, row_id: int) -> int:
        row = await session.get(OutboxMessage, row_id)
        return row.attempts if row is not None else 0
