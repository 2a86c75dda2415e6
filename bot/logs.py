"""Logging without message text, names or raw Telegram IDs.

Telegram IDs are replaced by a keyed hash so a log line can be correlated with other lines
about the same person, but not with the person.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import traceback
from pathlib import Path

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


def configure(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s level=%(levelname)s logger=%(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL, and the URL holds the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
