"""Buttons that carry proof of what the server showed, so a forged button cannot claim it.

Callback data is only a request: Telegram does not check that it came from a button the bot
made. Where a step must follow an earlier one and nothing may be stored yet (consent comes
before anything about a person is kept), the earlier screen signs the next button: a keyed
hash over what the step is about and when it was shown, checked when it is pressed.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

_MAC_HEX = 12  # 48 bits: guessing one is hopeless, and it fits Telegram's 64-byte data


def minutes(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def mac(secret: bytes, parts: tuple[object, ...], issued: int) -> str:
    message = ":".join(str(part) for part in (*parts, issued)).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:_MAC_HEX]


def sign(secret: bytes, parts: tuple[object, ...], now: datetime) -> tuple[int, str]:
    """(issued, mac) for a button about ``parts``, shown ``now``."""
    issued = minutes(now)
    return issued, mac(secret, parts, issued)


def verify(
    secret: bytes, parts: tuple[object, ...], issued: int, given: str, now: datetime,
    valid_for: timedelta,
) -> bool:
    """The button was made by us, for ``parts``, and not longer than ``valid_for`` ago."""
    if not hmac.compare_digest(given, mac(secret, parts, issued)):
        return False
    return 0 <= minutes(now) - issued <= valid_for.total_seconds() // 60
