"""Loading the data files, and the clear errors a broken file gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.questionnaires import (
    DATA_DIR,
    ChoiceItem,
    QuestionnaireError,
    ScaleItem,
    TextItem,
    YesNoItem,
    load_questionnaire,
    load_questionnaires,
)
from dialogs.questionnaires.loader import message_ids
from locales.i18n import Catalogs
from tests.dialogs.questionnaires.helpers import FIXTURES

VALID = """
key = "mini"
version = "1"
title = "T"
intro = "I"

[[items]]
key = "a"
type = "scale"
text = "A?"
min = 0
max = 10
min_label = "Low"
max_label = "High"

[[items]]
key = "b"
type = "yesno"
text = "B?"

[[scores]]
key = "s"
method = "sum"
items = ["a", "b"]
"""


def write(tmp_path: Path, text: str, name: str = "q.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_shipped_questionnaires_load() -> None:
    found = load_questionnaires()
    assert set(found) == {"checkin", "baseline", "post", "followup"}
    checkin = found["checkin"]
    assert len(checkin.items) == 4
    plan = checkin.item("action_plan")
    assert isinstance(plan, ChoiceItem)
    assert [o.label.msgid for o in plan.options] == [
        "I did all of it", "I did some of it", "Not this time", "I had no plan",
    ]  # fmt: skip
    assert [o.code for o in plan.options] == ["done", "partly", "not", "no_plan"]


def test_the_evaluation_covers_every_domain_the_evaluators_want() -> None:
    found = load_questionnaires()
    prefixes = {"se_", "wb_", "hb_", "in_", "so_"}  # coping, wellbeing, behaviour, insight, social
    for key in ("baseline", "post", "followup"):
        keys = [item.key for item in found[key].items]
        assert all(any(k.startswith(p) for k in keys) for p in prefixes), key
        assert {s.key for s in found[key].scores} == {"coping", "wellbeing", "insight"}
    course = [item.key for item in found["post"].items if item.key.startswith("cv_")]
    assert {"cv_meaningful", "cv_useful", "cv_knowledge_balance"} <= set(course)
    # A safety threshold on coping and wellbeing items, as the issue asks.
    for q in found.values():
        assert any(getattr(item, "safety_at_or_below", None) is not None for item in q.items)


def test_every_item_type_is_used_by_the_shipped_files() -> None:
    types = {type(item) for q in load_questionnaires().values() for item in q.items}
    assert types == {ScaleItem, ChoiceItem, YesNoItem, TextItem}


def test_shipped_files_use_message_ids_only_and_all_are_translated() -> None:
    catalogs = Catalogs.load()
    for q in load_questionnaires().values():
        for where, words in q.words():
            assert words.msgid is not None, f"{q.key} {where} has inline words"
            for tr in catalogs.all():
                if tr.locale != "en":
                    assert tr._(words.msgid) != words.msgid or words.msgid in ("No",), (
                        f"{tr.locale}: {words.msgid!r} is not translated"
                    )


def test_message_ids_point_at_their_file_and_line() -> None:
    found = list(message_ids(DATA_DIR, DATA_DIR.parent.parent.parent))
    texts = {msgid for msgid, _loc, _where in found}
    assert "How did your action plan go?" in texts
    for msgid, (path, line), _where in found:
        assert path.startswith("dialogs/questionnaires/data/")
        source = (DATA_DIR.parent.parent.parent / path).read_text().splitlines()
        assert msgid in source[line - 1].replace('\\"', '"'), (msgid, path, line)


def test_fixtures_with_inline_words_load_and_are_not_catalog_words() -> None:
    found = load_questionnaires(FIXTURES)
    assert set(found) == {"who5_shape", "semcd6_shape"}
    assert list(message_ids(FIXTURES)) == []
    catalogs = Catalogs.load()
    who5 = found["who5_shape"]
    assert who5.title.render(catalogs.tr("da")) == "Trivselsindeks (pladsholder)"
    # A locale the evaluator did not supply falls back to English.
    assert who5.title.render(catalogs.tr("nb")) == "Wellbeing index (placeholder)"
    assert who5.items[0].text.render(catalogs.tr("nb")).startswith("WHO-5 spørsmål 1")


def test_a_file_that_is_not_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "key = \n")
    with pytest.raises(QuestionnaireError, match=r"q\.toml: not valid TOML"):
        load_questionnaire(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('items = ["a", "b"]', 'items = ["a", "zz"]', "score 's' names unknown item 'zz'"),
        ("min = 0", "min = 10", r"items\[0\] \('a'\): min \(10\) must be below max \(10\)"),
        ("max = 10", "max = 20", "a scale has at most 11 answer buttons"),
        ('key = "b"', 'key = "a"', r"duplicate item key\(s\) \['a'\]"),
        (
            'items = ["a", "b"]',
            'items = ["a", "b"]\nreverse = ["b"]',
            "score 's' reverses 'b', which is not a scale item",
        ),
        (
            'items = ["a", "b"]',
            'items = ["a"]\nreverse = ["b"]',
            r"score 's' reverses \['b'\], which it does not sum up",
        ),
        (
            'items = ["a", "b"]',
            'items = ["a", "b"]\nmin_answered = 3',
            r"min_answered \(3\) is more than its 2 items",
        ),
        ('type = "yesno"', 'type = "slider"', "items\\[1\\].*does not match any of the expected"),
        (
            'text = "B?"',
            'text = "B?"\nsafety_at_or_below = 1',
            "on a yes/no item safety_at_or_below can only be 0",
        ),
        (
            'max_label = "High"',
            'max_label = "High"\nsafety_at_or_below = 10',
            "safety_at_or_below must be at least min and below max",
        ),
        (
            'max_label = "High"',
            'max_label = "High"\ncolour = "red"',
            r"items\[0\] \('a'\)\.colour: Extra inputs are not permitted",
        ),
        ('title = "T"', 'title = { en = "T", fr = "T" }', r"unknown locale\(s\) \['fr'\]"),
        ('title = "T"', "title = {}", "an inline wording needs at least one locale"),
        ('key = "mini"', 'key = "Mini Questions"', "key: String should match pattern"),
        ('method = "sum"', 'method = "median"', "method: Input should be 'sum' or 'mean'"),
    ],
)
def test_a_broken_file_says_what_is_wrong(tmp_path: Path, old: str, new: str, message: str) -> None:
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(QuestionnaireError, match=message) as caught:
        load_questionnaire(path)
    assert str(path) in str(caught.value)


def test_a_text_item_cannot_be_scored(tmp_path: Path) -> None:
    text = VALID.replace('type = "yesno"', 'type = "text"')
    with pytest.raises(QuestionnaireError, match="score 's' names text item 'b'"):
        load_questionnaire(write(tmp_path, text))


def test_choice_values_must_be_unique(tmp_path: Path) -> None:
    text = VALID.replace(
        'type = "yesno"',
        'type = "choice"\noptions = [{ value = 1, label = "x" }, { value = 1, label = "y" }]',
    )
    with pytest.raises(QuestionnaireError, match=r"option values must be unique, got \[1, 1\]"):
        load_questionnaire(write(tmp_path, text))


def test_two_files_with_one_key_are_refused(tmp_path: Path) -> None:
    write(tmp_path, VALID, "one.toml")
    write(tmp_path, VALID, "two.toml")
    with pytest.raises(QuestionnaireError, match=r"'mini' is already used by .*one\.toml"):
        load_questionnaires(tmp_path)


def test_the_models_are_frozen() -> None:
    q = load_questionnaires()["checkin"]
    with pytest.raises(ValueError, match="frozen"):
        q.items[0].required = False  # type: ignore[misc]


@pytest.mark.parametrize("locale", ["da", "nb"])
def test_the_shipped_questionnaires_read_easily(locale: str) -> None:
    from dialogs import readability

    tr = Catalogs.load().tr(locale)
    for q in load_questionnaires().values():
        texts = [tr._(words.msgid) for _where, words in q.words() if words.msgid]
        assert readability.lix(*texts) < readability.DIALOG_LIX_LIMIT, q.key
        for text in texts:
            stats = readability.stats(text)
            assert stats.words <= readability.MAX_WORDS, text
            if stats.words >= readability.MIN_WORDS_FOR_MESSAGE_LIX:
                assert stats.lix < readability.MESSAGE_LIX_LIMIT, text
