"""Compact, versioned callback data for inline buttons, as one typed codec per action.

Telegram gives a button 1–64 bytes. We spend them as ``v1:<action>:<arg>:<arg>``: a version
so a button from an older release can be recognised and answered kindly, a short action code,
and plain arguments (ids, codes). Callback data is only a request: the handler re-checks in the
database that the presser may act on what it names.

Each kind of button is an :class:`Action`: its code and the types of its arguments (or, for a
dialog with several buttons under one code, a form name and that form's arguments). The
action makes the button's data (:func:`callback`), reads a press back into typed values
(:meth:`Action.parse`), and gives the pattern its handler is registered with
(:func:`pattern`), so a code is written once. Codes are unique across the bot (a test walks
every module).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

VERSION = "v1"
MAX_BYTES = 64
_TOKEN = re.compile(r"^[A-Za-z0-9_.\-]+$")


class CallbackDataError(ValueError):
    """Callback data that this release did not make (old, forged or malformed)."""


@dataclass(frozen=True)
class Callback:
    """Callback data as it arrives: an action code and its arguments, still text."""

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


@dataclass(frozen=True)
class Arg:
    """How one argument is read from its text; ``example`` is a valid one (for tests)."""

    read: Callable[[str], Any]
    example: str


INT = Arg(int, "1")
TEXT = Arg(str, "x")


def one_of(*values: str) -> Arg:
    """An argument that is one of a few fixed codes."""

    def read(text: str) -> str:
        if text not in values:
            raise ValueError(f"{text!r} is not one of {values}")
        return text

    return Arg(read, values[0])


class Action(str):
    """One kind of button: its code (the ``str`` itself, so ``decode(data).action == ACTION``
    reads naturally) and the arguments it carries.

    ``Action("md", INT)`` takes one integer; ``Action("st", forms={"pause": (), "q": (TEXT,
    TEXT)})`` takes a form name first and then that form's arguments.
    """

    forms: Mapping[str | None, tuple[Arg, ...]]

    def __new__(
        cls, code: str, *args: Arg, forms: Mapping[str, Sequence[Arg]] | None = None
    ) -> Action:
        if not _TOKEN.match(code):
            raise ValueError(f"action code {code!r} must match {_TOKEN.pattern}")
        if forms is not None and args:
            raise ValueError("an action takes arguments or forms, not both")
        action = super().__new__(cls, code)
        action.forms = ({None: args} if forms is None
                        else {name: tuple(shape) for name, shape in forms.items()})
        return action

    @property
    def code(self) -> str:
        return str.__str__(self)

    def parse(self, data: str | None) -> tuple[Any, ...]:
        """The typed arguments of a press of this action (with a form, its name first).

        Raises :class:`CallbackDataError` for data of another action, shape or type.
        """
        decoded = decode(data)
        if decoded.action != self.code:
            raise CallbackDataError(f"not a {self.code!r} button")
        return self.read_args(decoded.args)

    def encode(self, *args: object) -> str:
        text = tuple(str(a) for a in args)
        self.read_args(text)  # a button this action could not read back is a bug: fail early
        return Callback(self.code, text).encode()

    def examples(self) -> list[str]:
        """One valid press of each form (for tests)."""
        return [
            Callback(self.code, (*((name,) if name is not None else ()),
                                 *(arg.example for arg in shape))).encode()
            for name, shape in self.forms.items()
        ]

    def read_args(self, args: tuple[str, ...]) -> tuple[Any, ...]:
        """Typed values of decoded arguments; :class:`CallbackDataError` if they do not fit."""
        if None in self.forms:
            name, rest, shape = None, args, self.forms[None]
        elif args and args[0] in self.forms:
            name, rest, shape = args[0], args[1:], self.forms[args[0]]
        else:
            raise CallbackDataError(f"unknown form of {self.code!r}")
        if len(rest) != len(shape):
            raise CallbackDataError(f"{self.code!r} takes {len(shape)} argument(s)")
        try:
            values = tuple(arg.read(text) for arg, text in zip(shape, rest, strict=True))
        except (ValueError, OverflowError) as exc:
            raise CallbackDataError(f"bad argument for {self.code!r}") from exc
        return values if name is None else (name, *values)

    def _arities(self) -> set[int]:
        return {len(shape) + (name is not None) for name, shape in self.forms.items()}


def callback(action: Action, *args: str | int | object) -> str:
    """The callback data of one button."""
    return action.encode(*args)


def pattern(*actions: Action) -> str:
    """The handler pattern for presses of these actions.

    An action with arguments matches ``v1:<code>:…`` and one without ``v1:<code>`` exactly;
    the handler reads the arguments (:meth:`Action.parse`) and answers a malformed press
    itself.
    """
    alternatives = []
    for action in actions:
        arities = action._arities()
        tail = "$" if arities == {0} else ":" if 0 not in arities else "(?::|$)"
        alternatives.append(re.escape(action.code) + tail)
    return rf"^{VERSION}:(?:{'|'.join(alternatives)})"
