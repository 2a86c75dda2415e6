"""Logging without message text, names or raw Telegram IDs.

Telegram IDs are replaced by a keyed hash so a log line can be correlated with other lines
about the same person, but not with the person.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_PSEUDONYM_KEY = b"mestring-logs-v1"


def pseudonym(telegram_id: int | None) -> str:
    if telegram_id is None:
        return "-"
    digest = hashlib.blake2b(str(telegram_id).encode(), key=_PSEUDONYM_KEY, digest_size=6)
    return "u" + digest.hexdigest()


def exception_summary(error: BaseException | None) -> str:
    """Exception type and where it happened; its message may hold user text, so leave it out."""
    if error is None:
        return "-"
    frames = traceback.extract_tb(error.__traceback__)[-6:]
    where = " <- ".join(
        f"{Path(f.filename).name}:{f.lineno}:{f.name}" for f in reversed(frames)
    )
    return f"{type(error).__module__}.{type(error).__qualname__} at {where or '?'}"


# Third-party loggers and the least severe level they may speak at, whatever our level is.
# At DEBUG these print what we promise never to log:
#   telegram    — "Processing update <Update …>" (message text, names, ids), "Calling Bot API
#                 endpoint … with parameters …" (reply text, chat ids) and the API URL, which
#                 holds the bot token;
#   httpx, httpcore — every request URL, again with the token;
#   sqlalchemy  — SQL with its parameters (names, answers) as soon as INFO is enabled;
#   aiosqlite   — each operation and its result rows;
#   apscheduler — a line per job run every few seconds (noise, no data).
THIRD_PARTY_FLOORS: dict[str, int] = {
    "telegram": logging.INFO,
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "apscheduler": logging.WARNING,
    "aiohttp.access": logging.WARNING,
}

# "<digits>:<35 characters>" is how a Bot API token looks, alone or inside ".../bot<token>/".
_TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{30,}")
REDACTED = "<redacted>"


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without bot tokens or any of ``secrets`` (a token, a database password)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return _TOKEN_PATTERN.sub(REDACTED, text)


class SafeFormatter(logging.Formatter):
    """key=value lines; exceptions as type and frames only, and nothing secret.

    An exception's message may hold user text (SQLAlchemy puts the statement's parameters in
    it) or the token (PTB's ``InvalidToken`` does), so tracebacks are written the way
    :func:`exception_summary` writes them, and every line passes :func:`redact`.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
        self._secrets = tuple(s for s in secrets if s)

    def formatException(self, ei: Any) -> str:
        error = ei[1] if isinstance(ei, tuple) else None
        return "error=" + exception_summary(error)

    def formatStack(self, stack_info: str) -> str:
        return ""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record), self._secrets)


def configure(level: str = "INFO", *, secrets: Iterable[str] = ()) -> None:
    """Log to stderr as key=value lines at ``level``; third-party loggers no lower than their
    floor (see :data:`THIRD_PARTY_FLOORS`). Pass the token in ``secrets`` to blank it out even
    where it appears in an unexpected form."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(secrets))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    # Replace our own earlier handler and any default one, but keep handlers others attached
    # on purpose (pytest's capture), so configuring twice does not print twice.
    root.handlers[:] = [
        h for h in root.handlers
        if h.get_name() != _HANDLER_NAME and type(h) is not logging.StreamHandler
    ] + [handler]
    root.setLevel(level)
    threshold = logging.getLevelName(level) if isinstance(level, str) else level
    for name, floor in THIRD_PARTY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, int(threshold)))


_HANDLER_NAME = "mestring"
