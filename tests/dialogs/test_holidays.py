"""Webinars on holidays: public holidays from the `holidays` package, the usual school-holiday
weeks from the data file, and a course that skips those weeks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from dialogs.coordinator_holidays import (
    HolidayChoice,
    holiday_names,
    plan,
    public_holidays,
    school_holidays,
)
from locales.i18n import Catalogs

CPH = ZoneInfo("Europe/Copenhagen")
OSLO = ZoneInfo("Europe/Oslo")
# Fridays at 19:00 from 10 December 2027: the 3rd is Christmas Eve, the 4th New Year's Eve.
CHRISTMAS_TEAM = datetime(2027, 12, 10, 19, 0)


def local_days(starts: list[datetime], tz: ZoneInfo) -> list[str]:
    return [s.astimezone(tz).date().isoformat() for s in starts]


@pytest.mark.parametrize(("country", "tz"), [("DK", CPH), ("NO", OSLO)])
def test_a_team_over_christmas_flags_the_24th_and_the_31st(country: str, tz: ZoneInfo) -> None:
    kept = plan(CHRISTMAS_TEAM, tz, country, HolidayChoice.KEEP)
    assert [(f.module_no, f.day.isoformat()) for f in kept.flagged] == [
        (3, "2027-12-24"), (4, "2027-12-31")]
    assert local_days(kept.starts, tz)[2:4] == ["2027-12-24", "2027-12-31"]
    assert kept.weeks == 6

    skipped = plan(CHRISTMAS_TEAM, tz, country, HolidayChoice.SKIP)
    assert local_days(skipped.starts, tz) == [
        "2027-12-10", "2027-12-17", "2028-01-07", "2028-01-14", "2028-01-21", "2028-01-28"]
    assert [f.day.isoformat() for f in skipped.skipped] == ["2027-12-24", "2027-12-31"]
    assert not skipped.flagged
    assert skipped.weeks == 8
    assert {s.astimezone(tz).strftime("%H:%M") for s in skipped.starts} == {"19:00"}


def test_names_come_in_the_readers_language() -> None:
    catalogs = Catalogs.load()
    eve = plan(CHRISTMAS_TEAM, CPH, "DK").flagged[0]
    assert holiday_names(catalogs.tr("en"), eve) == [
        "Christmas Eve", "Christmas holiday (schools)"]
    danish = holiday_names(catalogs.tr("da"), eve)
    assert danish[0] == "Juleaftensdag"
    assert danish[1] != "Christmas holiday (schools)"
    # Norway has no public holiday on the 24th, but the schools are closed.
    norwegian_eve = plan(CHRISTMAS_TEAM, OSLO, "NO").flagged[0]
    assert holiday_names(catalogs.tr("nb"), norwegian_eve) == [
        catalogs.tr("nb")._("Christmas holiday (schools)")]
    assert public_holidays(date(2027, 12, 25), "NO", "nb") == ["Første juledag"]
    assert public_holidays(date(2027, 5, 17), "NO", "en") == [
        "Constitution Day", "Pentecost Monday"]


@pytest.mark.parametrize(
    ("day", "country", "found"),
    [
        (date(2027, 2, 18), "DK", ["winter"]),  # week 7
        (date(2027, 2, 25), "NO", ["winter"]),  # week 8
        (date(2027, 2, 25), "DK", []),
        (date(2027, 10, 21), "DK", ["autumn"]),  # week 42
        (date(2027, 10, 7), "NO", ["autumn"]),  # week 40
        (date(2027, 7, 15), "DK", ["summer"]),
        (date(2027, 3, 22), "DK", ["easter"]),  # the Monday before Easter
        (date(2027, 3, 30), "NO", []),  # the Tuesday after Easter: school again
        (date(2027, 1, 1), "DK", ["christmas"]),
        (date(2027, 1, 4), "DK", []),
    ],
)
def test_the_usual_school_holiday_weeks(day: date, country: str, found: list[str]) -> None:
    assert school_holidays(day, country) == found


def test_a_course_without_holidays_is_six_weeks_as_planned() -> None:
    planned = plan(datetime(2027, 1, 7, 19, 0), CPH, "DK", HolidayChoice.SKIP)
    assert local_days(planned.starts, CPH) == [
        "2027-01-07", "2027-01-14", "2027-01-21", "2027-01-28", "2027-02-04", "2027-02-11"]
    assert not planned.flagged
    assert not planned.skipped
    assert planned.starts[0] == datetime(2027, 1, 7, 18, 0, tzinfo=UTC)


def test_a_summer_course_is_stretched_but_never_endlessly() -> None:
    # Thursdays from 17 June 2027: five summer weeks (27–31) fall in the middle.
    planned = plan(datetime(2027, 6, 17, 19, 0), CPH, "DK", HolidayChoice.SKIP)
    assert len(planned.starts) == 6
    assert len(planned.skipped) == 5
    assert planned.weeks == 11
