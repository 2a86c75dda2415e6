"""Wiring: planner and dispatcher on an APScheduler ``AsyncIOScheduler``.

Jobs live only in memory and carry fixed ids: everything durable is in the outbox, so a
restart re-creates the two jobs and the first dispatch picks up whatever is due (including
rows a crashed worker left claimed, once their lease runs out).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.budget import SendBudget
from bot.delivery.dispatcher import Dispatcher, DispatchReport, Sender
from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.planner import PlanReport, replan_members, stale_plans
from dialogs.outbox_render import Renderer
from locales.i18n import Catalogs
from storage.bulk import chunked
from storage.clock import Clock
from storage.engine import optimize
from storage.retry import retrying

log = logging.getLogger(__name__)

DISPATCH_JOB = "outbox-dispatch"
PLAN_JOB = "outbox-plan"
# Memberships replanned in one transaction by the safety net.
PLAN_CHUNK = 200
# The safety net's first look comes this long after start, not during it: it finds only what
# an event failed to plan, and at ten thousand people its read takes a second of the event
# loop that people waiting for their first answer should have.
FIRST_SAFETY_NET_AFTER = timedelta(seconds=5)
# The first dispatch, too, waits until the bot has asked Telegram for updates: a restart
# answers the people who wrote meanwhile first, and rows due then go out a second later.
FIRST_DISPATCH_AFTER = timedelta(seconds=1)


@dataclass
class DeliveryService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    dispatcher: Dispatcher
    config: DeliveryConfig
    _scheduler: AsyncIOScheduler | None = None

    @classmethod
    def build(
        cls,
        *,
        sessions: async_sessionmaker[AsyncSession],
        catalogs: Catalogs,
        clock: Clock,
        sender: Sender,
        default_locale: str,
        config: DeliveryConfig | None = None,
        worker: str | None = None,
        budget: SendBudget | None = None,
    ) -> DeliveryService:
        config = config or DeliveryConfig()
        dispatcher = Dispatcher(sessions, sender, Renderer(catalogs, default_locale), clock,
                                config, worker=worker, budget=budget)
        return cls(sessions, clock, dispatcher, config)

    async def run_once(self) -> DispatchReport:
        """Send everything due now, batch after batch (tests call this with a frozen clock)."""
        return await self.dispatcher.run_until_idle()

    async def plan_all(self) -> PlanReport:
        """The safety net: replan the memberships whose facts changed since they were planned
        (none, usually: then this is one read). A few hundred memberships per transaction,
        so a release that changes every plan does not hold the SQLite writer for long."""
        now = self.clock.now()
        async with self.sessions() as session:
            stale = await stale_plans(session, now, self.config)
        report = PlanReport()
        for team in stale:
            for ids in chunked(team.membership_ids, PLAN_CHUNK):
                report += await retrying(
                    lambda team_id=team.team_id, ids=ids: self._replan(team_id, ids, now),
                    what="outbox plan")
        return report

    async def _replan(self, team_id: int, membership_ids: Sequence[int],
                      now: datetime) -> PlanReport:
        async with self.sessions.begin() as session:
            return await replan_members(session, team_id, membership_ids, now, self.config)

    async def _dispatch_job(self) -> None:
        try:
            await self.dispatcher.run_until_idle()
        except Exception:  # a bad tick must not stop the next one
            log.exception("outbox dispatch failed")

    async def _plan_job(self) -> None:
        try:
            report = await self.plan_all()
            log.info("outbox planned added=%d moved=%d cancelled=%d",
                     report.added, report.moved, report.cancelled)
            async with self.sessions.begin() as session:
                await optimize(session)
        except Exception:
            log.exception("outbox planning failed")

    def start(self) -> None:
        """Start the jobs (inside the running event loop); their first runs come a moment after
        the start (FIRST_DISPATCH_AFTER, FIRST_SAFETY_NET_AFTER)."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        now = datetime.now(UTC)  # APScheduler triggers run on the wall clock by design
        scheduler.add_job(self._plan_job, "interval", id=PLAN_JOB, replace_existing=True,
                          seconds=self.config.replan_interval.total_seconds(),
                          max_instances=1, coalesce=True,
                          next_run_time=now + FIRST_SAFETY_NET_AFTER)
        scheduler.add_job(self._dispatch_job, "interval", id=DISPATCH_JOB,
                          replace_existing=True,
                          seconds=self.config.poll_interval.total_seconds(),
                          max_instances=1, coalesce=True,
                          next_run_time=now + FIRST_DISPATCH_AFTER)
        scheduler.start()
        self._scheduler = scheduler
        log.info("outbox started worker=%s", self.dispatcher.worker)

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            # wait=False: a dispatch in progress finishes its sends; an unrecorded one is
            # covered by the lease.
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
