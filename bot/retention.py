"""Wiring: the retention job on an APScheduler ``AsyncIOScheduler``, like ``DeliveryService``.

The job is in memory with a fixed id; what it acts on is in the database, so a restart loses
nothing and several workers running it at once only repeat a no-op (an erased person is gone).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.privacy import erased_tables
from dialogs.retention import DEFAULT_RETENTION, RetentionRun, erase_expired
from storage.clock import Clock
from storage.engine import engine_of
from storage.retry import retrying
from storage.scrub import purge_erased_copies

log = logging.getLogger(__name__)

RETENTION_JOB = "retention-erase"
FIRST_RUN_AFTER = timedelta(seconds=5)


@dataclass
class RetentionService:
    sessions: async_sessionmaker[AsyncSession]
    clock: Clock
    # Keys the wrong-code throttle rows, which go with the person (Services.throttle_secret).
    throttle_secret: bytes
    retention: timedelta = DEFAULT_RETENTION
    interval: timedelta = timedelta(hours=6)
    _scheduler: AsyncIOScheduler | None = None

    async def run_once(self) -> int:
        """Erase what has expired now, then the copies the database keeps of it; returns how
        many people were erased entirely (tests call this)."""
        run = await retrying(self._erase, what="retention")
        if run.memberships_erased:
            await purge_erased_copies(engine_of(self.sessions), erased_tables())
        return run.people_erased

    async def _erase(self) -> RetentionRun:
        async with self.sessions.begin() as session:
            return await erase_expired(session, self.clock.now(), self.retention,
                                       throttle_secret=self.throttle_secret)

    async def _job(self) -> None:
        try:
            erased = await self.run_once()
            if erased:
                log.info("retention erased persons=%d", erased)
        except Exception:  # a bad run must not stop the next one
            log.exception("retention run failed")

    def start(self) -> None:
        """Start the job inside the running event loop; its first run comes FIRST_RUN_AFTER the
        start, when the bot is answering people (nothing here is urgent: it runs every few
        hours)."""
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(self._job, "interval", id=RETENTION_JOB, replace_existing=True,
                          seconds=self.interval.total_seconds(), max_instances=1,
                          coalesce=True, next_run_time=datetime.now(UTC) + FIRST_RUN_AFTER)
        scheduler.start()
        self._scheduler = scheduler
        log.info("retention started days=%d", self.retention.days)

    async def stop(self) -> None:
        if self._scheduler is not None and self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        self._scheduler = None
