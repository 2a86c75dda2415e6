"""Typed settings from the environment (prefix ``MESTRING_``).

Bad settings must stop the program at start with one line that names the variable, so an
operator can fix the deployment without reading a traceback: :func:`load_settings` turns
pydantic's validation errors into :class:`SettingsError` with such a line.
"""

from __future__ import annotations

import re
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from locales.i18n import LocaleCode
from storage.engine import database_url

ENV_PREFIX = "MESTRING_"
MIN_SECRET_LENGTH = 32
HOW_TO_MAKE_ONE = 'make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"'
_WEBHOOK_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{MIN_SECRET_LENGTH},256}}")


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
    default_locale: LocaleCode = LocaleCode.DA
    default_timezone: str = "Europe/Copenhagen"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Participants' data is erased this long after their team's follow-up has closed.
    retention_days: int = Field(default=365, ge=30)
    # Keys the pseudonyms in logs, the invite-guess throttle and /delete confirmations. Per
    # deployment and secret: a constant or the bot token would let anyone who reads a log turn
    # a pseudonym back into a Telegram ID by trying every ID. `run` needs it; the demo and the
    # tests, which keep nothing, use a random one per process.
    secret_key: SecretStr | None = None
    # Telegram sends it in X-Telegram-Bot-Api-Secret-Token with every webhook request.
    webhook_secret: SecretStr | None = None
    # Fairness (bot/updates.py, bot/replies.py): a person sending more than this many updates
    # within the window gets one calm note and the rest are dropped; a reply that meets
    # Telegram's flood control waits at most this long before it is given up.
    flood_max_updates: int = Field(default=20, ge=1)
    flood_window_seconds: float = Field(default=10.0, gt=0)
    reply_max_wait_seconds: float = Field(default=60.0, ge=0)
    # Messages a second this process sends, replies and outbox together (bot/budget.py).
    # Telegram allows a bot about 30 in all: with several webhook workers, give each its share
    # (docs/deploy.md).
    send_rate_per_second: float = Field(default=30.0, gt=0)
    # Staff limits: an instructor's broadcasts to one team per day (on the team's clock).
    broadcasts_per_day: int = Field(default=3, ge=1)
    # The instructor's briefing goes out this many minutes before each webinar.
    briefing_minutes_before: int = Field(default=120, ge=0, le=24 * 60)

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

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        if len(value.get_secret_value().strip()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters; {HOW_TO_MAKE_ONE}")
        return SecretStr(value.get_secret_value().strip())

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = value.get_secret_value().strip()
        if not _WEBHOOK_SECRET.fullmatch(secret):
            raise ValueError(
                f"must be {MIN_SECRET_LENGTH} to 256 characters of A-Z, a-z, 0-9, _ and - "
                f"(what Telegram allows); {HOW_TO_MAKE_ONE}"
            )
        return SecretStr(secret)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        try:
            # The engine's own reading, so a URL that passes here also starts the engine.
            database_url(value)
        except ValueError as exc:
            raise ValueError(_database_problem(str(exc))) from None
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

    def require_secret_key(self) -> bytes:
        if self.secret_key is None:
            raise SettingsError(
                f"{ENV_PREFIX}SECRET_KEY is not set: it keys the pseudonyms in logs; "
                f"{HOW_TO_MAKE_ONE}"
            )
        return self.secret_key.get_secret_value().encode()

    def require_webhook_secret(self) -> str:
        if self.webhook_secret is None:
            raise SettingsError(
                f"{ENV_PREFIX}WEBHOOK_SECRET is not set: --webhook accepts only requests that "
                f"carry it; {HOW_TO_MAKE_ONE}"
            )
        return self.webhook_secret.get_secret_value()

    @cached_property
    def key(self) -> bytes:
        """The deployment's secret key, or a random one for this process when none is set."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        return secrets.token_bytes(32)


def _database_problem(message: str) -> str:
    if message.startswith("malformed"):
        return ("is not a database URL (e.g. sqlite:///data/mestring.sqlite3 "
                "or postgresql://user:password@host/dbname)")
    return message


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` with one line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"{ENV_PREFIX}{field.upper()} {message}") from None
