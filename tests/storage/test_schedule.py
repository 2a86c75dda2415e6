"""Weekly webinars keep their local wall-clock time across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.models import Country
from tests.storage.helpers import NOW

ZONES = ["Europe/Copenhagen", "Europe/Oslo"]


@given(
    start=st.dates(min_value=date(2020, 1, 1), max_value=date(2037, 12, 31)),
    zone_name=st.sampled_from(ZONES),
    at=st.sampled_from([time(19, 0), time(9, 30), time(17, 45), time(21, 0)]),
)
@example(start=date(2025, 3, 13), zone_name="Europe/Copenhagen", at=time(19, 0))  # spring
@example(start=date(2025, 10, 9), zone_name="Europe/Oslo", at=time(19, 0))  # autumn
def test_sessions_keep_local_time(start: date, zone_name: str, at: time) -> None:
    tz = ZoneInfo(zone_name)
    starts = queries.weekly_session_starts(datetime.combine(start, at), zone_name)

    assert len(starts) == 6
    for week, utc_start in enumerate(starts):
        assert utc_start.tzinfo is UTC
        local = utc_start.astimezone(tz)
        assert local.date() == start + timedelta(weeks=week)
        assert local.time() == at
    for earlier, later in pairwise(starts):
        # A week apart on the clock; in absolute time off by the DST shift, if one happened.
        shift = later.astimezone(tz).utcoffset() - earlier.astimezone(tz).utcoffset()
        assert later - earlier == timedelta(weeks=1) - shift
        assert abs(shift) in (timedelta(0), timedelta(hours=1))


def test_utc_hour_moves_across_spring_change() -> None:
    starts = queries.weekly_session_starts(datetime(2025, 3, 13, 19, 0), "Europe/Copenhagen")
    # CET (UTC+1) until 30 March 2025, CEST (UTC+2) after.
    assert [s.hour for s in starts] == [18, 18, 18, 17, 17, 17]


def test_aware_first_session_is_read_in_the_zone() -> None:
    first = datetime(2025, 1, 9, 18, 0, tzinfo=UTC)  # 19:00 in Copenhagen
    starts = queries.weekly_session_starts(first, "Europe/Copenhagen")
    assert starts[0] == first


def test_unknown_zone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        queries.weekly_session_starts(datetime(2025, 1, 9, 19, 0), "Europe/Atlantis")


async def test_team_sessions_stored_and_reloaded_across_dst(session: AsyncSession) -> None:
    async with session.begin():
        municipality = await queries.create_municipality(
            session, "Bergen", country=Country.NO, timezone="Europe/Oslo", now=NOW
        )
        team = await queries.create_team(
            session, municipality, "Torsdag", datetime(2025, 10, 16, 19, 0), now=NOW
        )
        team_id = team.id
    session.expunge_all()

    async with session.begin():
        sessions = await queries.team_sessions(session, team_id)
    oslo = ZoneInfo("Europe/Oslo")
    assert [s.module_no for s in sessions] == [1, 2, 3, 4, 5, 6]
    assert {s.starts_at.astimezone(oslo).time() for s in sessions} == {time(19, 0)}
    assert {s.starts_at.astimezone(oslo).weekday() for s in sessions} == {3}  # Thursday
    # CEST (UTC+2) until 26 October 2025, CET (UTC+1) after.
    assert [s.starts_at.hour for s in sessions] == [17, 17, 18, 18, 18, 18]
    assert all(s.starts_at.tzinfo is UTC for s in sessions)
