"""Whether a due row may go now: expiry, reachability, pauses, quiet hours, the weekly cap.

A pure function of facts, so every rule is tested without a database or a bot.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import policy
from dialogs.delivery.timeplan import quiet_until

WEEK = timedelta(days=7)


class Action(enum.StrEnum):
    SEND = "send"
    DEFER = "defer"  # back to pending, due at `until`
    EXPIRE = "expire"  # its moment has passed: never sent late
    CANCEL = "cancel"  # no longer wanted (unreachable, paced-out nudge)


@dataclass(frozen=True)
class Gate:
    action: Action
    until: datetime | None = None
    reason: str = ""


@dataclass(frozen=True)
class PersonTime:
    tz: ZoneInfo
    paused_until: datetime | None
    unreachable: bool
    quiet_start: time | None
    quiet_end: time | None


def gate(
    *,
    kind: str,
    urgent: bool,
    on_join: bool = False,
    expires_at: datetime | None,
    now: datetime,
    person: PersonTime,
    recent_paced: Sequence[datetime],
    config: DeliveryConfig,
) -> Gate:
    if expires_at is not None and now >= expires_at:
        return Gate(Action.EXPIRE, reason="expired before it could be sent")
    if person.unreachable:
        return Gate(Action.CANCEL, reason="unreachable")
    rules = policy(kind)
    if urgent or rules.urgent:
        return Gate(Action.SEND)
    if person.paused_until is not None and person.paused_until > now:
        return Gate(Action.DEFER, person.paused_until, "paused")
    start = person.quiet_start if person.quiet_start is not None else config.quiet_start
    end = person.quiet_end if person.quiet_end is not None else config.quiet_end
    quiet_end = quiet_until(now, person.tz, start, end)
    if quiet_end is not None:
        return Gate(Action.DEFER, quiet_end, "quiet hours")
    # What comes on joining answers the person's own step; it is not unsolicited.
    if rules.paced and not on_join:
        window = [t for t in recent_paced if t > now - WEEK]
        if len(window) >= config.weekly_cap:
            if rules.droppable:
                return Gate(Action.CANCEL, reason="weekly limit reached")
            # Room opens when the oldest message in the window turns a week old.
            room = sorted(window)[len(window) - config.weekly_cap] + WEEK
            return Gate(Action.DEFER, max(room, now + timedelta(minutes=1)), "weekly limit")
    return Gate(Action.SEND)
