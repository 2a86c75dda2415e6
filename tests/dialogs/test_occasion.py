from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dialogs.occasion import CHECKIN, EVALUATIONS, Occasion, checkin_week
from storage.models import COURSE_MODULES

occasions = st.one_of(
    st.sampled_from([Occasion.BASELINE, Occasion.POST, Occasion.FOLLOWUP]),
    st.integers(1, COURSE_MODULES).map(Occasion.checkin),
)


@given(occasions)
def test_every_occasion_round_trips_through_its_stored_form(occasion: Occasion) -> None:
    assert Occasion.parse(str(occasion)) == occasion
    assert checkin_week(str(occasion)) == occasion.week


def test_the_stored_forms_are_the_ones_existing_rows_hold() -> None:
    # Rows written by earlier releases say "checkin-3" and "baseline": parsing must keep them.
    assert Occasion.parse("checkin-3") == Occasion.checkin(3)
    assert Occasion.parse("checkin-3").questionnaire_key == CHECKIN
    assert [str(Occasion.parse(key)) for key in EVALUATIONS] == list(EVALUATIONS)


@given(st.text(max_size=20))
def test_text_this_release_did_not_write_is_refused(text: str) -> None:
    try:
        occasion = Occasion.parse(text)
    except ValueError:
        assert checkin_week(text) is None
        return
    assert str(occasion) == text


@pytest.mark.parametrize(
    "text", ["checkin-0", "checkin-7", "checkin-03", "checkin-x", "checkin", "checkin-", "post-1",
             "Baseline", ""])
def test_a_forged_occasion_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"occasion|check-in"):
        Occasion.parse(text)
