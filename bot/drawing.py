"""Pictures and PDFs are drawn in a child process, so a worker's memory stays its own.

matplotlib and fpdf2 stay in the process that first imports them for the rest of its life: the
first /progress picture grew a worker by ~48 MB (from ~100 MB to ~150 MB), and a GP summary
added fpdf2's ~32 MB. While they draw they also hold the GIL, so a thread still stalled other
people's replies for the length of each picture. A worker therefore hands its drawing to one
child process (``ProcessPoolExecutor``, started with ``spawn``: never ``fork`` a process that
runs threads). The child starts with the first picture (about a second and a half), draws the
next ones at once, and exits after :data:`IDLE_SECONDS` without work, which gives its memory
back. Pictures wait their turn in the child; a team pressing /progress together is drawn one
after another, as the GIL made it before, without holding up anyone's text replies.

A child that dies, or a drawing that takes longer than :data:`TIMEOUT_SECONDS`, raises
:class:`DrawingFailed`, and the handler's error reply reaches the person; the next picture
starts a new child. An error inside a drawing function reaches the handler as itself.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# A child with nothing to draw for this long exits (its memory goes back to the machine).
IDLE_SECONDS = 120.0
# Longer than any picture or PDF takes, starting the child included, on a busy machine.
TIMEOUT_SECONDS = 60.0


class DrawingFailed(Exception):
    """The drawing process died or did not answer in time."""


class Drawing:
    """The worker's one drawing process, started on demand and stopped when idle."""

    def __init__(self, *, idle_seconds: float = IDLE_SECONDS,
                 timeout_seconds: float = TIMEOUT_SECONDS) -> None:
        self.idle_seconds = idle_seconds
        self.timeout_seconds = timeout_seconds
        self._pool: ProcessPoolExecutor | None = None
        self._busy = 0
        self._idle: asyncio.TimerHandle | None = None

    @property
    def running(self) -> bool:
        """Whether a child process is up (between a first picture and its idle stop)."""
        return self._pool is not None

    async def run(self, draw: Callable[..., T], *args: object) -> T:
        """``draw(*args)`` in the child; ``draw`` and ``args`` must pickle (a module-level
        function and plain data)."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        pool = self._pool
        loop = asyncio.get_running_loop()
        self._busy += 1
        try:
            return await asyncio.wait_for(loop.run_in_executor(pool, draw, *args),
                                          self.timeout_seconds)
        except BrokenProcessPool as exc:
            log.warning("drawing process died")
            self._discard(pool)
            raise DrawingFailed("the drawing process died") from exc
        except TimeoutError as exc:
            log.warning("drawing timed out seconds=%.0f", self.timeout_seconds)
            self._discard(pool, kill=True)
            raise DrawingFailed("the drawing process did not answer") from exc
        finally:
            self._busy -= 1
            if not self._busy and self._pool is not None:
                self._idle = loop.call_later(self.idle_seconds, self._stop_idle)

    async def close(self) -> None:
        """Stop the child (the worker is stopping), waiting for what it is drawing."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        pool, self._pool = self._pool, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)

    def _stop_idle(self) -> None:
        self._idle = None
        if self._pool is not None and not self._busy:
            pool, self._pool = self._pool, None
            pool.shutdown(wait=False)

    def _discard(self, pool: ProcessPoolExecutor, *, kill: bool = False) -> None:
        if self._pool is pool:
            self._pool = None
        if kill:  # a stuck child would otherwise keep its memory and a core for good
            terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
            if terminate is not None:
                terminate()
            else:
                for process in list((getattr(pool, "_processes", None) or {}).values()):
                    process.kill()
        pool.shutdown(wait=False, cancel_futures=True)
