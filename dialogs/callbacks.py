"""Compact, versioned callback data for inline buttons.

Telegram gives a button 1–64 bytes. We spend them as ``v1:<action>:<arg>:<arg>``: a version
so a button from an older release can be recognised and answered kindly, a short action name,
and plain arguments (ids, codes). Callback data is only a request: the handler re-checks in the
database that the presser may act on what it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

VERSION = "v1"
MAX_BYTES = 64
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class CallbackDataError(ValueError):
    """Callback data that this release did not make (old, forged or malformed)."""


@dataclass(frozen=True)
class Callback:
    action: str
    args: tuple[str, ...] = ()

    def encode(self) -> str:
        for part in (self.action, *self.args):
            if not _TOKEN.match(part):
                raise ValueError(f"callback part {part!r} must match {_TOKEN.pattern}")
        data = ":".join((VERSION, self.action, *self.args))
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data {data!r} is longer than {MAX_BYTES} bytes")
        return data


def callback(action: str, *args: str | int) -> str:
    return Callback(action, tuple(str(a) for a in args)).encode()


def decode(data: str | None) -> Callback:
    if not data:
        raise CallbackDataError("empty callback data")
    version, _, rest = data.partition(":")
    if version != VERSION or not rest:
        raise CallbackDataError("unknown callback data version")
    action, *args = rest.split(":")
    if not all(_TOKEN.match(part) for part in (action, *args)):
        raise CallbackDataError("malformed callback data")
    return Callback(action, tuple(args))
