"""When a questionnaire is asked: the occasion, parsed and formatted here and nowhere else.

The evaluation is asked at the baseline (on joining), after the course (post) and months later
(follow-up); the weekly check-in after webinar N. The text form ("baseline", "checkin-3") is
stored in ``questionnaire_responses.occasion``, in outbox payloads and in exports, so it is
part of the schema: change it only with a migration.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from storage.models import COURSE_MODULES

CHECKIN = "checkin"  # the weekly check-in questionnaire's key
CHECKIN_PREFIX = f"{CHECKIN}-"  # "checkin-3": the check-in after webinar 3 (SQL reads it too)
EVALUATIONS = ("baseline", "post", "followup")  # each is its own questionnaire's key


@dataclass(frozen=True)
class Occasion:
    """One occasion: a questionnaire key, and for the check-in the week (webinar) it follows."""

    questionnaire_key: str
    week: int | None = None

    BASELINE: ClassVar[Occasion]
    POST: ClassVar[Occasion]
    FOLLOWUP: ClassVar[Occasion]

    def __post_init__(self) -> None:
        if self.questionnaire_key == CHECKIN:
            if self.week is None or not 1 <= self.week <= COURSE_MODULES:
                raise ValueError(f"a check-in follows webinar 1..{COURSE_MODULES}, not {self.week}")
        elif self.questionnaire_key not in EVALUATIONS or self.week is not None:
            raise ValueError(f"no occasion {self.questionnaire_key!r} (week {self.week})")

    @classmethod
    def checkin(cls, week: int) -> Occasion:
        return cls(CHECKIN, week)

    @classmethod
    def parse(cls, text: str) -> Occasion:
        """The occasion of its text form; ValueError for anything this release did not write."""
        key, dash, number = text.partition("-")
        if not dash:
            return cls(key)
        if key != CHECKIN or not number.isdecimal() or number != str(int(number)):
            raise ValueError(f"no occasion {text!r}")
        return cls(CHECKIN, int(number))

    @property
    def is_checkin(self) -> bool:
        return self.week is not None

    def __str__(self) -> str:
        return f"{CHECKIN_PREFIX}{self.week}" if self.week is not None else self.questionnaire_key


def checkin_week(text: str) -> int | None:
    """The week of a check-in occasion's text form; None for an evaluation or foreign text."""
    try:
        return Occasion.parse(text).week
    except ValueError:
        return None


Occasion.BASELINE = Occasion("baseline")
Occasion.POST = Occasion("post")
Occasion.FOLLOWUP = Occasion("followup")
