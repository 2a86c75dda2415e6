"""Wall-clock arithmetic in a zone: plans are made on the local clock, stored in UTC.

"A day before a 19:00 webinar" is 19:00 the previous day on the local clock, even when the
night between has 23 or 25 hours; an hour before is sixty real minutes before.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from storage.models import Team

MINUTES_PER_DAY = 24 * 60


def at_local(day: date, clock: time, tz: ZoneInfo) -> datetime:
    """UTC moment of wall-clock ``clock`` on ``day`` in ``tz``.

    A time inside a spring-forward gap lands just after the gap; an ambiguous one (fall-back)
    takes its first occurrence — the same rule as ``storage.queries.weekly_session_starts``.
    """
    return datetime.combine(day, clock).replace(tzinfo=tz, fold=0).astimezone(UTC)


def local_date(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def before(start: datetime, offset_minutes: int, tz: ZoneInfo) -> datetime:
    """``offset_minutes`` before ``start``: whole days on the local clock, the rest in real
    minutes (1440 → same local time the day before; 60 → one hour before)."""
    days, minutes = divmod(offset_minutes, MINUTES_PER_DAY)
    local = start.astimezone(tz)
    shifted = at_local(local.date() - timedelta(days=days), local.time().replace(tzinfo=None), tz)
    return shifted - timedelta(minutes=minutes)


def days_later(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """The same local wall-clock time ``days`` later."""
    local = moment.astimezone(tz)
    return at_local(local.date() + timedelta(days=days), local.time().replace(tzinfo=None), tz)


def quiet_until(moment: datetime, tz: ZoneInfo, start: time, end: time) -> datetime | None:
    """When ``moment`` falls in the quiet hours ``start``–``end`` (local, may wrap midnight),
    the UTC moment they end; otherwise None. Equal start and end mean no quiet hours."""
    if start == end:
        return None
    local = moment.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        inside, end_day = start <= now < end, today
    else:
        inside = now >= start or now < end
        end_day = today + timedelta(days=1) if now >= start else today
    if not inside:
        return None
    until = at_local(end_day, end, tz)
    # Only a zone jumping over `end` could put it behind us; never hand back the past.
    return until if until > moment else None


def next_day_at(moment: datetime, clock: time, tz: ZoneInfo) -> datetime:
    """``clock`` local time on the day after ``moment``'s local date."""
    return at_local(local_date(moment, tz) + timedelta(days=1), clock, tz)


class _HasZone(Protocol):
    @property
    def timezone(self) -> str | None: ...


def zone_for(person: _HasZone, team: Team | None) -> ZoneInfo:
    """The person's own zone if they chose one, else the team's."""
    return ZoneInfo(person.timezone or (team.timezone if team is not None else "UTC"))
