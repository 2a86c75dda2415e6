"""Delivery knobs in one frozen dataclass, so tests and production differ only in values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from typing import ClassVar


@dataclass(frozen=True)
class DeliveryConfig:
    # -- dispatching -----------------------------------------------------------------------
    batch_size: int = 50
    # Telegram's ~30 messages/s for the bot, shared by replies and the outbox: the outbox
    # sends with what replies leave (bot/budget.py). None sends the outbox unpaced (tests
    # against the local Bot API with its limits off).
    send_rate_per_second: float | None = 30.0
    concurrency: int = 8
    # A claim older than this is treated as abandoned by a crashed worker and claimed again.
    lease: timedelta = timedelta(minutes=2)
    max_attempts: int = 6
    backoff_base: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(minutes=30)
    poll_interval: timedelta = timedelta(seconds=5)
    replan_interval: timedelta = timedelta(minutes=15)
    # -- people's time ---------------------------------------------------------------------
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    # Unsolicited messages per participant per rolling 7 days (webinar reminders excepted).
    weekly_cap: int = 4
    # "Not now" asks again the next day at this local time.
    ask_again_at: time = time(10, 0)
    # -- the plan --------------------------------------------------------------------------
    nudge_at: time = time(10, 0)  # the day before webinar N, if module N is not prepared
    evaluation_at: time = time(10, 0)
    checkin_after_end: timedelta = timedelta(minutes=10)
    checkin_reminder_after: timedelta = timedelta(days=2)
    followup_after: timedelta = timedelta(weeks=12)
    evaluation_open_for: timedelta = timedelta(weeks=4)
    # -- the instructor's plan -------------------------------------------------------------
    briefing_before: timedelta = timedelta(hours=2)  # the briefing, before each webinar
    attendance_prompt_open_for: timedelta = timedelta(days=2)  # after the webinar's end

    # The knobs the planner's rules read (a test keeps this in step with planner.py). Only
    # these go into a membership's plan digest: changing how fast the outbox sends must not
    # make the safety net replan ten thousand people.
    PLANNING: ClassVar[tuple[str, ...]] = (
        "nudge_at", "evaluation_at", "checkin_after_end", "checkin_reminder_after",
        "followup_after", "evaluation_open_for", "briefing_before", "attendance_prompt_open_for",
    )

    def planning_facts(self) -> str:
        """The planning knobs' values, as a stable text for digests."""
        return ";".join(f"{name}={getattr(self, name)}" for name in self.PLANNING)

    def backoff(self, attempts: int) -> timedelta:
        """Wait before retry number ``attempts`` after a network error or 5xx (doubling)."""
        step = self.backoff_base * (2 ** max(0, attempts - 1))
        return min(step, self.backoff_max)
