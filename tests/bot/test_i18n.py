from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel import Locale
from babel.messages.pofile import read_po, write_po

from bot.cli import catalogs
from locales.i18n import (
    SUPPORTED_LOCALES,
    CatalogError,
    Catalogs,
    compiled_copy,
    language_name,
    negotiate_locale,
    po_path,
)


def test_every_catalog_is_complete_with_matching_placeholders() -> None:
    problems = catalogs.check()
    assert not problems, "\n".join(map(str, problems))


def copy_locales(tmp_path: Path) -> Path:
    import shutil

    target = tmp_path / "project"
    for folder in dict.fromkeys((*catalogs.EXTRACT_DIRS, "locales")):
        shutil.copytree(catalogs.PROJECT_DIR / folder, target / folder)
    return target / "locales"


@pytest.mark.parametrize("fault", ["fuzzy", "untranslated", "placeholder"])
def test_the_check_fails_on_a_broken_translation(tmp_path: Path, fault: str) -> None:
    locales = copy_locales(tmp_path)
    path = po_path("da", locales)
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="da")
    message = catalog["Welcome back, {name}."]
    if fault == "fuzzy":
        message.flags.add("fuzzy")
    elif fault == "untranslated":
        message.string = ""
    else:
        message.string = "Velkommen tilbage, {navn}."
    with path.open("wb") as fh:
        write_po(fh, catalog)
    problems = catalogs.check(locales)
    assert [p.locale for p in problems] == ["da"]
    assert problems[0].msgid == "Welcome back, {name}."


def test_the_check_fails_on_a_message_the_catalogs_do_not_have(tmp_path: Path) -> None:
    locales = copy_locales(tmp_path)
    extra = locales.parent / "dialogs" / "brand_new.py"
    extra.write_text('from locales.i18n import N_\nTEXT = N_("A sentence nobody translated")\n')
    problems = catalogs.check(locales)
    assert {(p.locale, p.problem) for p in problems} == {
        (locale, "not in catalog (run update)") for locale in SUPPORTED_LOCALES
    }


def _retranslate(path: Path, msgid: str, text: str) -> None:
    with path.open("rb") as fh:
        catalog = read_po(fh, locale="da")
    catalog[msgid].string = text
    with path.open("wb") as fh:
        write_po(fh, catalog)


def test_an_edited_catalog_is_never_answered_from_an_older_compiled_copy(
    tmp_path: Path,
) -> None:
    locales = copy_locales(tmp_path)
    path = po_path("da", locales)
    greeting = Catalogs.load(locales).tr("da")._("Welcome back, {name}.", name="Ida")
    assert greeting == "Velkommen tilbage, Ida."
    assert compiled_copy(path, path.read_bytes()).is_file()  # kept for the next start

    _retranslate(path, "Welcome back, {name}.", "Godt at se dig igen, {name}.")
    again = Catalogs.load(locales).tr("da")._("Welcome back, {name}.", name="Ida")
    assert again == "Godt at se dig igen, Ida."
    # Only the copy of the catalog as it is now stays beside it.
    assert list(path.parent.glob("*.mo")) == [compiled_copy(path, path.read_bytes())]


def test_a_damaged_compiled_copy_is_compiled_again(tmp_path: Path) -> None:
    locales = copy_locales(tmp_path)
    path = po_path("da", locales)
    kept = compiled_copy(path, path.read_bytes())
    kept.write_bytes(b"not a catalog")
    greeting = Catalogs.load(locales).tr("da")._("Welcome back, {name}.", name="Ida")
    assert greeting == "Velkommen tilbage, Ida."
    assert kept.read_bytes() != b"not a catalog"


def test_a_missing_catalog_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="missing"):
        Catalogs.load(tmp_path)


@pytest.mark.parametrize(
    ("chosen", "telegram", "team", "expected"),
    [
        ("nb", "da", "en", "nb"),  # the person's own choice wins
        (None, "da-DK", "en", "da"),
        (None, "no", "da", "nb"),  # Norwegian apps may say "no"
        (None, "nn", "da", "nb"),
        (None, "de", "en", "en"),  # unsupported Telegram language: the team's
        (None, None, None, "da"),  # then the default
    ],
)
def test_locale_negotiation_order(
    chosen: str | None, telegram: str | None, team: str | None, expected: str
) -> None:
    got = negotiate_locale(
        chosen=chosen, telegram_language_code=telegram, team_language=team, default="da"
    )
    assert got == expected


def test_dates_are_formatted_in_the_readers_language() -> None:
    catalogs = Catalogs.load()
    moment = datetime(2027, 3, 25, 18, 0, tzinfo=UTC)  # 19:00 in Copenhagen (winter time)
    tz = ZoneInfo("Europe/Copenhagen")
    assert catalogs.tr("da").datetime(moment, tz, "EEEE d. MMMM 'kl.' HH:mm") == (
        "torsdag 25. marts kl. 19:00"
    )
    assert catalogs.tr("nb").date(moment.date(), "EEEE d. MMMM") == "torsdag 25. mars"
    assert catalogs.tr("en").date(moment.date(), "EEEE d MMMM") == "Thursday 25 March"


@pytest.mark.parametrize("code", SUPPORTED_LOCALES)
def test_each_language_is_offered_in_its_own_name_as_babel_writes_it(code: str) -> None:
    """The names on the language buttons are written out (see locales/i18n.py); they must
    stay the names Babel's CLDR data gives each language in itself."""
    assert language_name(code) == Locale.parse(code).get_display_name(code).capitalize()


def test_a_day_and_a_time_are_the_readers_in_the_zone_asked_for_every_time() -> None:
    """Tr.day and Tr.time are memoised: the same moment asked again, in another zone or for
    another reader, is still formatted for that zone and reader."""
    catalogs = Catalogs.load()
    moment = datetime(2027, 3, 25, 18, 0, tzinfo=UTC)
    copenhagen, auckland = ZoneInfo("Europe/Copenhagen"), ZoneInfo("Pacific/Auckland")
    for _ in range(2):  # the second round is answered from the memo
        assert catalogs.tr("da").day(moment, copenhagen).startswith("torsdag")
        assert catalogs.tr("da").day(moment, auckland).startswith("fredag")
        assert catalogs.tr("nb").day(moment, auckland).startswith("fredag")
        assert catalogs.tr("en").day(moment, auckland).startswith("Friday")
        assert catalogs.tr("da").time(moment, copenhagen) == "19.00"
        assert catalogs.tr("da").time(moment, auckland) == "07.00"
        assert catalogs.tr("en").time(moment, copenhagen) == "19:00"
        assert catalogs.tr("da").time(moment, copenhagen, "HH:mm:ss") == "19:00:00"
