"""What a person sees: item screens, compact callback data, hints and the safety message."""

from __future__ import annotations

import pytest

from dialogs.callbacks import MAX_BYTES, CallbackDataError, decode
from dialogs.questionnaires import engine, load_questionnaires, screens
from dialogs.questionnaires.model import ChoiceItem, Questionnaire, ScaleItem, TextItem
from dialogs.safety import EMERGENCY_NUMBERS
from dialogs.screen import Screen
from locales.i18n import Catalogs, Tr
from tests.dialogs.questionnaires.helpers import FIXTURES

CATALOGS = Catalogs.load()
ALL = {**load_questionnaires(), **load_questionnaires(FIXTURES)}
# The largest id a response may realistically get, so the byte budget is tested at its worst.
BIG_ID = 2**63 - 1


def callbacks(screen: Screen) -> list[str]:
    return [b.callback for row in screen.buttons for b in row if b.callback]


def screens_of(tr: Tr, q: Questionnaire) -> list[tuple[int, Screen]]:
    return [
        (index, screens.item_screen(tr, q, item, response_id=BIG_ID, position=index + 1,
                                    total=len(q.items), can_go_back=index > 0))
        for index, item in enumerate(q.items)
    ]  # fmt: skip


@pytest.mark.parametrize("key", sorted(ALL))
def test_every_item_screen_has_compact_callback_data_that_round_trips(key: str) -> None:
    q = ALL[key]
    for index, screen in screens_of(CATALOGS.tr("da"), q):
        item = q.items[index]
        for data in callbacks(screen):
            assert 1 <= len(data.encode()) <= MAX_BYTES
            tap = screens.parse_tap(decode(data))
            assert (tap.response_id, tap.item_index) == (BIG_ID, index)
            if tap.action == screens.ACTION_ANSWER:
                assert tap.value_code is not None
                # The value on the button is an answer the engine accepts for that item.
                value = engine.parse_answer(item, tap.value_code)
                assert value in getattr(item, "values", ())
            else:
                assert tap.action in (screens.ACTION_BACK, screens.ACTION_SKIP)


@pytest.mark.parametrize("key", sorted(ALL))
def test_item_screens_offer_back_and_skip_only_where_allowed(key: str) -> None:
    q = ALL[key]
    for index, screen in screens_of(CATALOGS.tr("en"), q):
        item = q.items[index]
        actions = [decode(d).action for d in callbacks(screen)]
        assert (screens.ACTION_BACK in actions) == (index > 0)
        assert (screens.ACTION_SKIP in actions) == (not item.required)
        answers = [a for a in actions if a == screens.ACTION_ANSWER]
        assert len(answers) == len(getattr(item, "values", ()))


def test_a_zero_to_ten_scale_takes_two_rows_and_a_short_one_row() -> None:
    checkin = ALL["checkin"]
    tr = CATALOGS.tr("en")
    wide = screens.item_screen(tr, checkin, checkin.items[0], response_id=1, position=1,
                               total=4, can_go_back=False)  # fmt: skip
    assert [[b.label for b in row] for row in wide.buttons] == [
        ["0", "1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"],
    ]  # fmt: skip
    assert "0 = Not well at all" in wide.text
    assert "10 = Very well" in wide.text
    assert "Question 1 of 4" in wide.text
    baseline = ALL["baseline"]
    mood = baseline.item("wb_mood")
    assert isinstance(mood, ScaleItem)
    short = screens.item_screen(tr, baseline, mood, response_id=1, position=5, total=15,
                                can_go_back=True)  # fmt: skip
    assert [b.label for b in short.buttons[0]] == ["0", "1", "2", "3", "4", "5"]
    assert [b.label for b in short.buttons[1]] == ["← Back"]


def test_a_choice_has_one_option_a_row_and_marks_an_earlier_answer() -> None:
    checkin = ALL["checkin"]
    plan = checkin.item("action_plan")
    assert isinstance(plan, ChoiceItem)
    screen = screens.item_screen(CATALOGS.tr("en"), checkin, plan, response_id=7, position=4,
                                 total=4, can_go_back=True, current=2.0)  # fmt: skip
    labels = [[b.label for b in row] for row in screen.buttons]
    assert labels == [["I did all of it"], ["✓ I did some of it"], ["Not this time"],
                      ["I had no plan"], ["← Back"]]  # fmt: skip


def test_a_text_item_asks_for_a_message_and_escapes_an_earlier_answer() -> None:
    post = ALL["post"]
    item = post.item("cv_comment")
    assert isinstance(item, TextItem)
    screen = screens.item_screen(CATALOGS.tr("en"), post, item, response_id=7, position=19,
                                 total=19, can_go_back=True, current="<b>5 > 3</b>")  # fmt: skip
    assert "1000" in screen.text
    assert "&lt;b&gt;5 &gt; 3&lt;/b&gt;" in screen.text
    assert [b.label for b in screen.buttons[-1]] == ["← Back", "Skip →"]


def test_inline_words_from_an_evaluator_file_are_escaped(tmp_path: object) -> None:
    who5 = ALL["who5_shape"]
    odd = who5.model_copy(update={"title": who5.title.model_copy(update={"inline": {"en": "A<B"}})})
    screen = screens.item_screen(CATALOGS.tr("en"), odd, odd.items[0], response_id=1,
                                 position=1, total=5, can_go_back=False)  # fmt: skip
    assert "<b>A&lt;B</b>" in screen.text


@pytest.mark.parametrize(
    "data", ["v1:qa:1:2", "v1:qa:x:1:2", "v1:qb:1", "v1:qo:1:2", "v1:zz:1:2", "v1:qs:1:y"]
)
def test_a_malformed_questionnaire_button_is_refused(data: str) -> None:
    with pytest.raises(CallbackDataError):
        screens.parse_tap(decode(data))


def test_the_open_button_round_trips() -> None:
    screen = screens.intro_screen(CATALOGS.tr("nb"), ALL["checkin"], response_id=42)
    (data,) = callbacks(screen)
    assert screens.parse_tap(decode(data)) == screens.Tap(screens.ACTION_OPEN, 42)
    assert screens.intro_screen(CATALOGS.tr("nb"), ALL["checkin"]).buttons == ()


@pytest.mark.parametrize("locale", ["da", "nb", "en"])
@pytest.mark.parametrize("country", ["DK", "NO"])
def test_the_safety_message_shows_the_countrys_numbers_and_the_gp(
    locale: str, country: str
) -> None:
    tr = CATALOGS.tr(locale)
    text = screens.safety_screen(tr, country).text
    for line in EMERGENCY_NUMBERS[country]:
        assert line.number in text
        assert tr._(line.label) in text
    for other in EMERGENCY_NUMBERS:
        if other != country:
            assert all(
                line.number not in text
                for line in EMERGENCY_NUMBERS[other]
                if line.number not in {x.number for x in EMERGENCY_NUMBERS[country]}
            )
    gp = {"da": "læge", "nb": "lege", "en": "doctor"}[locale]
    assert gp in text


def test_the_safety_message_for_an_unknown_country_shows_every_country() -> None:
    text = screens.safety_screen(CATALOGS.tr("en"), None).text
    for lines in EMERGENCY_NUMBERS.values():
        assert all(line.number in text for line in lines)


@pytest.mark.parametrize("locale", ["da", "nb", "en"])
def test_every_hint_renders_for_every_item_type(locale: str) -> None:
    tr = CATALOGS.tr(locale)
    reasons = [v for k, v in vars(engine).items() if k.startswith("REASON_")]
    for q in ALL.values():
        for item in q.items:
            for reason in [*reasons, "something new"]:
                text = screens.invalid_answer_hint(tr, item, reason).text
                assert text
                assert "{" not in text
    scale = ALL["checkin"].items[0]
    assert "0" in screens.invalid_answer_hint(tr, scale, engine.REASON_OUT_OF_RANGE).text
    assert "10" in screens.invalid_answer_hint(tr, scale, engine.REASON_OUT_OF_RANGE).text


@pytest.mark.parametrize("locale", ["da", "nb", "en"])
def test_the_other_screens_render_in_every_locale(locale: str) -> None:
    tr = CATALOGS.tr(locale)
    q = ALL["baseline"]
    for screen in (
        screens.intro_screen(tr, q, response_id=1, resuming=True),
        screens.finished_screen(tr, q),
        screens.already_finished_screen(tr, q),
        screens.already_finished_screen(tr),
        screens.stale_screen(tr),
    ):
        assert screen.text
        assert "{" not in screen.text
