"""Property tests across daylight-saving changes in Europe/Copenhagen and Europe/Oslo: a 19:00
webinar stays 19:00 local, and every planned message lands at its intended local time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from dialogs.delivery.config import DeliveryConfig
from dialogs.delivery.kinds import Kind
from dialogs.delivery.planner import MemberFacts, WebinarFacts, plan_member
from dialogs.delivery.timeplan import quiet_until
from storage.queries import weekly_session_starts

ZONES = st.sampled_from([ZoneInfo("Europe/Copenhagen"), ZoneInfo("Europe/Oslo")])
# Most courses near a change of clocks: six weeks starting from February to November.
FIRST_DAYS = st.one_of(
    st.dates(date(2025, 2, 1), date(2035, 4, 1)).filter(lambda d: d.month in (2, 3, 9, 10)),
    st.dates(date(2025, 1, 1), date(2035, 12, 31)),
)
WALL_TIMES = st.sampled_from([time(19, 0), time(17, 30), time(9, 15), time(20, 0)])
OFFSETS = st.lists(st.sampled_from([2880, 1440, 180, 60, 30, 15]), min_size=1, max_size=3,
                   unique=True)


def _local(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment.astimezone(tz)


@settings(max_examples=150, deadline=None)
@given(tz=ZONES, first=FIRST_DAYS, wall=WALL_TIMES, offsets=OFFSETS)
def test_planned_messages_keep_their_local_times_across_dst(
    tz: ZoneInfo, first: date, wall: time, offsets: list[int]
) -> None:
    starts = weekly_session_starts(datetime.combine(first, wall), tz)
    webinars = tuple(WebinarFacts(i + 100, i + 1, s, 60, False) for i, s in enumerate(starts))
    joined = starts[0] - timedelta(days=10)
    facts = MemberFacts(1, 1, 1, joined, tz, tuple(offsets), webinars)
    config = DeliveryConfig()
    rows = plan_member(facts, config)

    for w in webinars:  # the webinar itself stays at its wall-clock time every week
        assert _local(w.starts_at, tz).time() == wall
    for row in rows:
        local_due = _local(row.due_at, tz)
        payload = row.payload
        if row.kind == Kind.WEBINAR_REMINDER:
            start = datetime.fromisoformat(payload["starts_at"])
            days, minutes = divmod(payload["offset_minutes"], 1440)
            if minutes == 0:  # whole days: same local time, that many days earlier
                assert local_due.time() == wall
                assert local_due.date() == _local(start, tz).date() - timedelta(days=days)
            else:  # less than a day: real minutes before the start
                assert start - row.due_at == timedelta(minutes=payload["offset_minutes"])
            assert row.expires_at is not None
            assert row.due_at < row.expires_at <= start
        elif row.kind == Kind.PREP_NUDGE:
            start = datetime.fromisoformat(payload["starts_at"])
            assert local_due.time() == config.nudge_at
            assert local_due.date() == _local(start, tz).date() - timedelta(days=1)
        elif row.kind == Kind.CHECKIN:
            w = webinars[payload["module_no"] - 1]
            end = w.starts_at + timedelta(minutes=w.duration_minutes)
            assert row.due_at == end + config.checkin_after_end
        elif row.kind == Kind.CHECKIN_REMINDER:
            checkin = next(r for r in rows if r.kind == Kind.CHECKIN
                           and r.payload["module_no"] == payload["module_no"])
            assert local_due.time() == _local(checkin.due_at, tz).time()
            assert local_due.date() - _local(checkin.due_at, tz).date() == timedelta(days=2)
        elif row.kind == Kind.EVALUATION and payload["occasion"] != "baseline":
            assert local_due.time() == config.evaluation_at
    # Planning is a function of the facts: the same facts, the same rows.
    assert plan_member(facts, config) == rows


@settings(max_examples=300, deadline=None)
@given(
    tz=ZONES,
    moment=st.datetimes(datetime(2025, 1, 1), datetime(2035, 12, 31), timezones=st.just(UTC)),
)
def test_quiet_hours_end_at_eight_local_and_never_earlier(tz: ZoneInfo, moment: datetime) -> None:
    start, end = time(21, 0), time(8, 0)
    until = quiet_until(moment, tz, start, end)
    local = _local(moment, tz).time().replace(tzinfo=None)
    inside = local >= start or local < end
    if not inside:
        assert until is None
        return
    assert until is not None
    assert until > moment
    assert _local(until, tz).time() == end
    assert until - moment <= timedelta(hours=12)  # 21:00 → 08:00 is 11 h, 12 h on a DST night
    assert quiet_until(until, tz, start, end) is None
