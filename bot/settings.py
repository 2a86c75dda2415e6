"""Typed settings from the environment (prefix ``MESTRING_``).

Bad settings must stop the program at start with one line that names the variable, so an
operator can fix the deployment without reading a traceback: :func:`load_settings` turns
pydantic's validation errors into :class:`SettingsError` with such a line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from locales.i18n import LocaleCode

ENV_PREFIX = "MESTRING_"


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")

    telegram_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"
    bot_username: str | None = None
    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; a SQLite file in data_dir when unset"
    )
    default_locale: LocaleCode = "da"
    default_timezone: str = "Europe/Copenhagen"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Participants' data is erased this long after their team's follow-up has closed.
    retention_days: int = Field(default=365, ge=30)
    # Fairness (bot/updates.py, bot/replies.py): a person sending more than this many updates
    # within the window gets one calm note and the rest are dropped; a reply that meets
    # Telegram's flood control waits at most this long before it is given up.
    flood_max_updates: int = Field(default=20, ge=1)
    flood_window_seconds: float = Field(default=10.0, gt=0)
    reply_max_wait_seconds: float = Field(default=60.0, ge=0)

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("telegram_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        # A Bot API token is "<bot id>:<secret>"; anything else is a paste error.
        bot_id, _, secret = value.get_secret_value().strip().partition(":")
        if not bot_id.isdigit() or not secret:
            raise ValueError("does not look like a Bot API token (<bot id>:<secret>)")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            url = make_url(value)
        except ArgumentError:
            raise ValueError("is not a database URL (e.g. sqlite:///data/mestring.sqlite3 "
                             "or postgresql://user:password@host/dbname)") from None
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            raise ValueError(f"backend {url.get_backend_name()!r} is not supported "
                             "(use sqlite or postgresql)")
        return value

    @field_validator("default_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Copenhagen")\
                from None
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'mestring.sqlite3').as_posix()}"

    def require_token(self) -> str:
        if self.telegram_token is None:
            raise SettingsError(
                f"{ENV_PREFIX}TELEGRAM_TOKEN is not set: give the bot token from @BotFather "
                "(or try `mestring demo`, which needs none)"
            )
        return self.telegram_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` with one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{ENV_PREFIX}{field.upper()} {message}") from None
