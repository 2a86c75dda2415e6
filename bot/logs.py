"""Logging without message text, names or raw Telegram IDs.

Telegram IDs are replaced by a keyed hash so a log line can be correlated with other lines
about the same person, but not with the person. The key is the deployment's secret
(``MESTRING_SECRET_KEY``), given to :func:`configure`: a key known to anyone (a constant in the
source) would let a reader of the logs hash every possible ID and find the person.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import re
import sys
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Only for records formatted outside our handler (a test's log capture): random per process,
# so even those lines cannot be traced back.
_PROCESS_KEY = os.urandom(32)


@dataclass(frozen=True)
class Pseudonym:
    """A Telegram ID in a log call, hashed with the deployment's key when the line is written."""

    telegram_id: int | None

    def keyed(self, key: bytes) -> str:
        if self.telegram_id is None:
            return "-"
        digest = hashlib.blake2b(
            str(self.telegram_id).encode(), key=hashlib.sha256(b"logs:" + key).digest(),
            digest_size=6,
        )
        return "u" + digest.hexdigest()

    def __str__(self) -> str:
        return self.keyed(_PROCESS_KEY)


def pseudonym(telegram_id: int | None) -> Pseudonym:
    """Log ``user=%s`` with this, never the ID itself."""
    return Pseudonym(telegram_id)


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

    def __init__(self, secrets: Iterable[str] = (), *, pseudonym_key: bytes | None = None) -> None:
        super().__init__("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
        self._secrets = tuple(s for s in secrets if s)
        self._pseudonym_key = pseudonym_key or _PROCESS_KEY

    def formatException(self, ei: Any) -> str:
        error = ei[1] if isinstance(ei, tuple) else None
        return "error=" + exception_summary(error)

    def formatStack(self, stack_info: str) -> str:
        return ""

    def format(self, record: logging.LogRecord) -> str:
        if isinstance(record.args, tuple) and any(isinstance(a, Pseudonym) for a in record.args):
            # A copy: other handlers see the same record.
            record = copy.copy(record)
            record.args = tuple(
                a.keyed(self._pseudonym_key) if isinstance(a, Pseudonym) else a
                for a in record.args  # type: ignore[union-attr]
            )
        return redact(super().format(record), self._secrets)


def configure(
    level: str = "INFO", *, secrets: Iterable[str] = (), pseudonym_key: bytes | None = None
) -> None:
    """Log to stderr as key=value lines at ``level``; third-party loggers no lower than their
    floor (see :data:`THIRD_PARTY_FLOORS`). Pass the token in ``secrets`` to blank it out even
    where it appears in an unexpected form, and the deployment's secret key as
    ``pseudonym_key`` (without one, pseudonyms are stable only within this process)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(SafeFormatter(secrets, pseudonym_key=pseudonym_key))
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
