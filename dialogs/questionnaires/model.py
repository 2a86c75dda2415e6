"""The questionnaire format: frozen, validated models of one TOML data file.

A questionnaire is items plus scoring rules, all data. Words are either a gettext message id
(the files we ship: translated through the catalogs like any other text) or an inline table
``{ en = "…", da = "…", nb = "…" }`` (an evaluator's licensed instrument: its official wording
is used as is and never goes through our catalogs). See docs/questionnaires.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from locales.i18n import SOURCE_LOCALE, SUPPORTED_LOCALES, Tr

# Keys end up in callback data, database columns (String(64)/String(32)) and export headers:
# short, lower-case, no spaces.
KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
VERSION_PATTERN = r"^[A-Za-z0-9_.\-]{1,32}$"
# Telegram shows at most 8 buttons in a row comfortably; two rows of up to 6 hold 0–10.
MAX_SCALE_BUTTONS = 11
MAX_TEXT_LENGTH = 2000

Key = Annotated[str, Field(pattern=KEY_PATTERN)]


class _Frozen(BaseModel):
    # extra="forbid": a misspelt field in a data file is an error, not a silently ignored line.
    model_config = ConfigDict(frozen=True, extra="forbid")


class Words(_Frozen):
    """Human-facing words: a message id for the catalogs, or inline wording per locale."""

    msgid: str | None = None
    inline: dict[str, str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_toml(cls, data: Any) -> Any:
        # In a data file words are written as a plain string or as { en = …, da = … }.
        if isinstance(data, str):
            return {"msgid": data}
        if isinstance(data, Mapping) and not {"msgid", "inline"} & set(data):
            return {"inline": dict(data)}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Words:
        if (self.msgid is None) == (self.inline is None):
            raise ValueError("words are either a message id or a table of locales")
        if self.msgid is not None and not self.msgid.strip():
            raise ValueError("words must not be empty")
        if self.inline is not None:
            if not self.inline:
                raise ValueError("an inline wording needs at least one locale")
            unknown = set(self.inline) - set(SUPPORTED_LOCALES)
            if unknown:
                raise ValueError(
                    f"unknown locale(s) {sorted(unknown)}; use {list(SUPPORTED_LOCALES)}"
                )
            if any(not text.strip() for text in self.inline.values()):
                raise ValueError("inline wording must not be empty")
        return self

    def render(self, tr: Tr) -> str:
        """The words in the reader's locale (plain text, not HTML)."""
        if self.msgid is not None:
            return tr._(self.msgid)
        assert self.inline is not None
        # An evaluator may supply only the languages they hold a licensed wording for.
        for locale in (tr.locale, SOURCE_LOCALE, *SUPPORTED_LOCALES):
            if locale in self.inline:
                return self.inline[locale]
        raise AssertionError("unreachable: validated non-empty")  # pragma: no cover


class _ItemBase(_Frozen):
    key: Key
    text: Words
    required: bool = True


class _NumericItem(_ItemBase):
    # An answer at or below this value shows the caring safety message (once per response).
    safety_at_or_below: int | None = None


class ScaleItem(_NumericItem):
    type: Literal["scale"]
    min: int
    max: int
    min_label: Words
    max_label: Words

    @model_validator(mode="after")
    def _range(self) -> ScaleItem:
        if self.min >= self.max:
            raise ValueError(f"min ({self.min}) must be below max ({self.max})")
        if self.max - self.min + 1 > MAX_SCALE_BUTTONS:
            raise ValueError(f"a scale has at most {MAX_SCALE_BUTTONS} answer buttons")
        if self.safety_at_or_below is not None and not (
            self.min <= self.safety_at_or_below < self.max
        ):
            raise ValueError("safety_at_or_below must be at least min and below max")
        return self

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(range(self.min, self.max + 1))


class Option(_Frozen):
    value: int
    label: Words
    # Optional name for code that reacts to an answer (e.g. an action plan's outcome).
    code: str | None = Field(default=None, pattern=KEY_PATTERN)
    # "I don't know", "I had no plan": a real answer that is not a point on the item's
    # dimension. Scores leave it out and exports flag it instead of giving it as a value.
    nonsubstantive: bool = False


class ChoiceItem(_NumericItem):
    type: Literal["choice"]
    options: tuple[Option, ...] = Field(min_length=2, max_length=10)

    @field_validator("options")
    @classmethod
    def _unique_values(cls, options: tuple[Option, ...]) -> tuple[Option, ...]:
        values = [o.value for o in options]
        if len(set(values)) != len(values):
            raise ValueError(f"option values must be unique, got {values}")
        return options

    @model_validator(mode="after")
    def _safety_in_range(self) -> ChoiceItem:
        t = self.safety_at_or_below
        if t is not None and not (min(self.values) <= t < max(self.values)):
            raise ValueError("safety_at_or_below must be between the lowest and highest option")
        if all(o.nonsubstantive for o in self.options):
            raise ValueError("at least one option must be a substantive answer")
        return self

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    @property
    def nonsubstantive_values(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options if o.nonsubstantive)

    def option(self, value: float | None) -> Option | None:
        return next((o for o in self.options if o.value == value), None)


class YesNoItem(_NumericItem):
    """Yes = 1, no = 0."""

    type: Literal["yesno"]

    @model_validator(mode="after")
    def _safety(self) -> YesNoItem:
        if self.safety_at_or_below not in (None, 0):
            raise ValueError("on a yes/no item safety_at_or_below can only be 0 (no)")
        return self

    @property
    def values(self) -> tuple[int, ...]:
        return (1, 0)


class TextItem(_ItemBase):
    type: Literal["text"]
    max_length: int = Field(default=500, ge=1, le=MAX_TEXT_LENGTH)


Item = Annotated[ScaleItem | ChoiceItem | YesNoItem | TextItem, Field(discriminator="type")]
NumericItem = ScaleItem | ChoiceItem | YesNoItem


class Score(_Frozen):
    """A scoring rule: sum or mean of items (reverse-scored where named) times `multiply`,
    or no score when fewer than `min_answered` items have an answer."""

    key: Key
    method: Literal["sum", "mean"]
    items: tuple[str, ...] = Field(min_length=1)
    # What the participant sees next to their own score in /progress; None keeps it for
    # the research export only.
    label: Words | None = None
    reverse: tuple[str, ...] = ()
    multiply: float = 1.0
    # None means every item of the score must be answered.
    min_answered: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> Score:
        if len(set(self.items)) != len(self.items):
            raise ValueError(f"score {self.key!r} names an item twice")
        stray = [key for key in self.reverse if key not in self.items]
        if stray:
            raise ValueError(f"score {self.key!r} reverses {stray}, which it does not sum up")
        if self.min_answered is not None and self.min_answered > len(self.items):
            raise ValueError(
                f"score {self.key!r}: min_answered ({self.min_answered}) is more than its "
                f"{len(self.items)} items"
            )
        return self

    @property
    def needed(self) -> int:
        return len(self.items) if self.min_answered is None else self.min_answered


class Questionnaire(_Frozen):
    key: Key
    version: str = Field(pattern=VERSION_PATTERN)
    title: Words
    intro: Words
    items: tuple[Item, ...] = Field(min_length=1)
    scores: tuple[Score, ...] = ()

    @model_validator(mode="after")
    def _references(self) -> Questionnaire:
        keys = [item.key for item in self.items]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate item key(s) {duplicates}")
        score_keys = [s.key for s in self.scores]
        duplicates = sorted({k for k in score_keys if score_keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate score key(s) {duplicates}")
        by_key = {item.key: item for item in self.items}
        for score in self.scores:
            for key in score.items:
                item = by_key.get(key)
                if item is None:
                    raise ValueError(f"score {score.key!r} names unknown item {key!r}")
                if isinstance(item, TextItem):
                    raise ValueError(f"score {score.key!r} names text item {key!r}")
            for key in score.reverse:
                if not isinstance(by_key[key], ScaleItem):
                    raise ValueError(
                        f"score {score.key!r} reverses {key!r}, which is not a scale item"
                    )
        return self

    def item(self, key: str) -> Item | None:
        return next((item for item in self.items if item.key == key), None)

    def index(self, key: str) -> int:
        """0-based position of an item; ValueError for an unknown key."""
        for index, item in enumerate(self.items):
            if item.key == key:
                return index
        raise ValueError(f"{self.key} has no item {key!r}")

    def item_at(self, index: int) -> Item | None:
        """The item at a 0-based position, or None (e.g. from an old or forged button)."""
        return self.items[index] if 0 <= index < len(self.items) else None

    def words(self) -> list[tuple[str, Words]]:
        """Every piece of human-facing words with where it sits, for extraction and checks."""
        found: list[tuple[str, Words]] = [("title", self.title), ("intro", self.intro)]
        for item in self.items:
            found.append((f"{item.key}.text", item.text))
            if isinstance(item, ScaleItem):
                found += [(f"{item.key}.min_label", item.min_label),
                          (f"{item.key}.max_label", item.max_label)]  # fmt: skip
            elif isinstance(item, ChoiceItem):
                found += [(f"{item.key}.option.{o.value}", o.label) for o in item.options]
        found += [(f"score.{s.key}.label", s.label) for s in self.scores if s.label is not None]
        return found
