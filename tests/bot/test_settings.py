from __future__ import annotations

import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.startswith("MESTRING_"):
            monkeypatch.delenv(key)


def test_defaults_give_a_sqlite_file_in_the_data_folder() -> None:
    settings = load_settings()
    assert settings.resolved_database_url == "sqlite:///data/mestring.sqlite3"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.default_locale == "da"


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESTRING_TELEGRAM_TOKEN", "123:abc")
    monkeypatch.setenv("MESTRING_TELEGRAM_API_URL", "http://127.0.0.1:8081/")
    monkeypatch.setenv("MESTRING_DATABASE_URL", "postgresql://u:p@db/mestring")
    monkeypatch.setenv("MESTRING_DEFAULT_LOCALE", "nb")
    monkeypatch.setenv("MESTRING_DEFAULT_TIMEZONE", "Europe/Oslo")
    settings = load_settings()
    assert settings.require_token() == "123:abc"
    assert settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.resolved_database_url == "postgresql://u:p@db/mestring"
    assert (settings.default_locale, settings.default_timezone) == ("nb", "Europe/Oslo")


@pytest.mark.parametrize(
    ("variable", "value", "words"),
    [
        ("MESTRING_DATABASE_URL", "not a url", "is not a database URL"),
        ("MESTRING_DATABASE_URL", "mysql://u@h/db", "unsupported database backend 'mysql'"),
        ("MESTRING_DATABASE_URL", "postgresql+odbc://u@h/db", "unsupported database driver"),
        ("MESTRING_DEFAULT_LOCALE", "de", "MESTRING_DEFAULT_LOCALE"),
        ("MESTRING_DEFAULT_TIMEZONE", "Mars/Olympus", "not an IANA time zone"),
        ("MESTRING_TELEGRAM_TOKEN", "oops", "does not look like a Bot API token"),
        ("MESTRING_TELEGRAM_API_URL", "api.telegram.org", "http"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, words: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(variable)
    assert words in message
    assert "\n" not in message


def test_a_missing_token_is_named_only_when_needed() -> None:
    settings = load_settings()
    with pytest.raises(SettingsError, match=r"^MESTRING_TELEGRAM_TOKEN is not set"):
        settings.require_token()


def test_numbers_come_from_the_environment_in_any_case_and_a_given_value_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MESTRING_RETENTION_DAYS", "400")
    monkeypatch.setenv("mestring_send_rate_per_second", "7.5")
    monkeypatch.setenv("MESTRING_FLOOD_MAX_UPDATES", "5")
    monkeypatch.setenv("MESTRING_SOMETHING_ELSE", "ignored")
    settings = load_settings(flood_max_updates=9)
    assert (settings.retention_days, settings.send_rate_per_second) == (400, 7.5)
    assert settings.flood_max_updates == 9


def test_a_number_out_of_range_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MESTRING_RETENTION_DAYS", "7")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("MESTRING_RETENTION_DAYS ")
    assert "30" in str(caught.value)
