"""Fault injection: 429 storms, 5xx answers, slow answers and dropped connections.

Tests switch faults on at runtime; each fault applies to the next N matching calls or, for
429 storms, also for a period measured with the injected clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

FaultKind = Literal["429", "5xx", "slow", "drop"]

# Methods that send or change messages: the ones Telegram's flood control counts.
SENDING_METHODS = frozenset(
    {
        "sendmessage", "sendphoto", "senddocument", "editmessagetext", "editmessagecaption",
        "editmessagereplymarkup",
    }
)

_STATUS_TEXT = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                504: "Gateway Timeout"}


@dataclass
class Fault:
    kind: FaultKind
    remaining: int | None = 1  # None: unlimited count (then ``until`` bounds it)
    until: float | None = None  # clock time after which the fault is over
    methods: frozenset[str] | None = None  # lower-case method names; None: every method
    status: int = 500
    retry_after: int = 5
    delay: float = 0.0
    hits: int = 0

    @property
    def description(self) -> str:
        if self.kind == "429":
            return f"Too Many Requests: retry after {self.retry_after}"
        return _STATUS_TEXT.get(self.status, "Internal Server Error")

    def matches(self, method: str, now: float) -> bool:
        if self.until is not None and now >= self.until:
            return False
        if self.remaining is not None and self.remaining <= 0:
            return False
        return self.methods is None or method in self.methods


def _methods(methods: Iterable[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)


@dataclass
class FaultPlan:
    """The active faults. ``take(method)`` is called once per API call by the HTTP layer."""

    clock: Callable[[], float] = time.monotonic
    faults: list[Fault] = field(default_factory=list)

    def storm_429(
        self,
        count: int | None = None,
        *,
        duration: float | None = None,
        retry_after: int = 5,
        methods: Iterable[str] | None = SENDING_METHODS,
    ) -> Fault:
        """Answer 429 to the next ``count`` sending calls and/or for ``duration`` seconds."""
        if count is None and duration is None:
            count = 1
        until = None if duration is None else self.clock() + duration
        return self._add(Fault("429", count, until, _methods(methods),
                               retry_after=max(1, retry_after)))

    def server_errors(
        self, count: int = 1, *, status: int = 500, methods: Iterable[str] | None = None
    ) -> Fault:
        """Answer ``status`` (500/502/…) to the next ``count`` calls."""
        return self._add(Fault("5xx", count, None, _methods(methods), status=status))

    def slow(
        self, count: int = 1, *, delay: float, methods: Iterable[str] | None = None
    ) -> Fault:
        """Delay the next ``count`` answers by ``delay`` seconds (the server being slow)."""
        return self._add(Fault("slow", count, None, _methods(methods), delay=delay))

    def drop(self, count: int = 1, *, methods: Iterable[str] | None = None) -> Fault:
        """Close the connection without an answer on the next ``count`` calls."""
        return self._add(Fault("drop", count, None, _methods(methods)))

    def clear(self) -> None:
        self.faults.clear()

    def take(self, method: str) -> list[Fault]:
        """The faults that hit this call (slow first), consuming one use of each."""
        now = self.clock()
        hit: list[Fault] = []
        terminal_taken = False
        for fault in list(self.faults):
            if not fault.matches(method, now):
                continue
            if fault.kind != "slow":
                # Only one answer can be given: the first terminal fault wins.
                if terminal_taken:
                    continue
                terminal_taken = True
            fault.hits += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            hit.append(fault)
        self.faults = [f for f in self.faults if not self._spent(f, now)]
        hit.sort(key=lambda f: f.kind != "slow")
        return hit

    def _spent(self, fault: Fault, now: float) -> bool:
        return (fault.remaining is not None and fault.remaining <= 0) or (
            fault.until is not None and now >= fault.until
        )

    def _add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault
