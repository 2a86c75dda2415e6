"""Seconds on a monotonic clock, and waiting on them, for the parts of the bot that pace.

Production uses real time. The sandbox passes the clock its simulated people live on (see
``bot.sandbox.HumanPace``), so waits the local Bot API asks for cost tests no real time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Timing:
    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
