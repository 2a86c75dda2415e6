"""Reading a date and time that staff type, on a team's wall clock."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

_TYPED_TIME = re.compile(r"(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2})")


def parse_local_time(text: str, tz: ZoneInfo) -> datetime | None:
    """``2027-01-14 19:00`` on the team's clock, as UTC; None for anything else, including a
    wall time that does not exist that day (the spring-forward hour)."""
    found = _TYPED_TIME.fullmatch(text.strip())
    if found is None:
        return None
    try:
        naive = datetime(*(int(part) for part in found.groups()))  # type: ignore[misc]
    except ValueError:
        return None
    moment = naive.replace(tzinfo=tz).astimezone(UTC)
    if moment.astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return moment
