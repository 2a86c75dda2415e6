"""Webinars that fall on holidays, found before a team is saved.

Public holidays come from the ``holidays`` package: Denmark's public holidays and its
"optional" days off (Christmas Eve, New Year's Eve, 1 May, Constitution Day), Norway's public
holidays. The package has no school holidays for either country, so the usual school-holiday
weeks are a small data file, ``content/school_holidays.toml`` (see its header).

A coordinator chooses for the whole team: skip every flagged week (each later webinar moves a
week on, so the course runs over seven weeks or more) or keep the dates. ``mestring team
create``, ``/newteam`` and the demo team all plan through :func:`plan`.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.easter import easter

from locales.i18n import N_, Tr
from storage.models import COURSE_MODULES, Country
from storage.queries import weekly_session_starts

SCHOOL_HOLIDAYS_PATH = Path(__file__).with_name("content") / "school_holidays.toml"
# A course is never stretched further than this looking for free weeks (summer is long).
MAX_WEEKS = 20

# Which of the package's categories count as a day off, per country.
_CATEGORIES: dict[str, tuple[str, ...]] = {Country.DK: ("public", "optional"),
                                           Country.NO: ("public",)}
# The package's language codes for ours.
_PACKAGE_LANGUAGE = {"da": "da", "nb": "no", "en": "en_US"}
_SCHOOL_NAMES = {
    "winter": N_("Winter holiday (schools)"),
    "autumn": N_("Autumn holiday (schools)"),
    "summer": N_("Summer holiday (schools)"),
    "christmas": N_("Christmas holiday (schools)"),
    "easter": N_("Easter holiday (schools)"),
}


class HolidayChoice(enum.StrEnum):
    ASK = "ask"  # flagged webinars stop the creation (HolidaysFound): the coordinator decides
    SKIP = "skip"  # a flagged week is left out and the course runs a week longer
    KEEP = "keep"  # the dates stay as they are


@dataclass(frozen=True)
class Flag:
    """One webinar on a holiday."""

    module_no: int
    starts_at: datetime  # UTC
    day: date  # its local date
    country: str
    zone: str  # the team's time zone


@dataclass(frozen=True)
class Plan:
    starts: list[datetime]  # UTC, one per module
    flagged: list[Flag]  # webinars on holidays among ``starts`` (kept ones)
    skipped: list[Flag]  # weeks left out (with the webinar that would have been there)

    @property
    def weeks(self) -> int:
        """How many weeks the course runs, first webinar to last."""
        return len(self.starts) + len(self.skipped)


@cache
def _school_weeks() -> Mapping[str, Mapping[str, Any]]:
    """The data file, read once (immutable data)."""
    with SCHOOL_HOLIDAYS_PATH.open("rb") as fh:
        return tomllib.load(fh)


def _month_day(text: str) -> tuple[int, int]:
    month, day = text.split("-")
    return int(month), int(day)


def school_holidays(day: date, country: str) -> list[str]:
    """The school holidays ``day`` falls in (keys of the data file's fields)."""
    rules = _school_weeks().get(str(country), {})
    week = day.isocalendar().week
    found = [name for name in ("winter", "autumn", "summer") if week in rules.get(name, ())]
    christmas = rules.get("christmas")
    if christmas is not None:
        start, end = _month_day(christmas["from"]), _month_day(christmas["to"])
        if (day.month, day.day) >= start or (day.month, day.day) <= end:
            found.append("christmas")
    spring = rules.get("easter")
    if spring is not None:
        sunday = easter(day.year)
        if sunday + timedelta(days=spring["from"]) <= day <= sunday + timedelta(days=spring["to"]):
            found.append("easter")
    return found


def public_holidays(day: date, country: str, locale: str = "en") -> list[str]:
    """The names of the public holidays on ``day``, in the reader's language."""
    # Imported here: its country tables cost every worker memory, and only planning a new
    # team's dates reads them.
    import holidays

    calendar = holidays.country_holidays(
        str(country), years=day.year, categories=_CATEGORIES.get(str(country), ("public",)),
        language=_PACKAGE_LANGUAGE.get(locale, "en_US"))
    name = calendar.get(day)
    return [part.strip() for part in name.split(";")] if name else []


def is_holiday(day: date, country: str) -> bool:
    return bool(school_holidays(day, country) or public_holidays(day, country))


def holiday_names(tr: Tr, flag: Flag) -> list[str]:
    return [*public_holidays(flag.day, flag.country, tr.locale),
            *(tr._(_SCHOOL_NAMES[key]) for key in school_holidays(flag.day, flag.country))]


def plan(first_local: datetime, tz: ZoneInfo, country: str,
         choice: HolidayChoice = HolidayChoice.KEEP) -> Plan:
    """The six webinar starts from the first one's wall-clock time, weekly, with the holiday
    weeks skipped (``SKIP``) or only flagged (``KEEP``, ``ASK``)."""
    candidates = weekly_session_starts(first_local, tz, count=MAX_WEEKS)
    starts: list[datetime] = []
    flagged: list[Flag] = []
    skipped: list[Flag] = []
    for index, start in enumerate(candidates):
        day = start.astimezone(tz).date()
        if is_holiday(day, country):
            flag = Flag(len(starts) + 1, start, day, str(country), tz.key)
            weeks_left = len(candidates) - index - 1
            if choice is HolidayChoice.SKIP and weeks_left >= COURSE_MODULES - len(starts):
                skipped.append(flag)
                continue
            flagged.append(flag)
        starts.append(start)
        if len(starts) == COURSE_MODULES:
            break
    return Plan(starts, flagged, skipped)
