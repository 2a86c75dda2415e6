"""Translations and locale-aware formatting, always with an explicit locale.

Messages to a person are often rendered outside any update (reminders, broadcasts), each
recipient in their own language, so nothing here depends on a "current" locale. Catalogs are
compiled from the ``.po`` files when the program starts: there are no compiled binaries to
forget, and a broken catalog stops the start instead of a conversation. The compiled form is
kept beside each ``.po`` under the digest of the bytes it came from, so the next start reads it
instead of parsing the ``.po`` again (a tenth of a second per worker), and an edited ``.po`` is
never served from an old copy.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import struct
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_decimal
from babel.support import Translations

from storage.models.enums import Language

# The one list of languages the bot speaks. The schema stores them (a CHECK constraint on every
# language column), so the list is storage's enum; settings, screens and catalogs take it from
# here.
LocaleCode = Language
SUPPORTED_LOCALES: tuple[str, ...] = tuple(language.value for language in Language)
SOURCE_LOCALE = "en"
DOMAIN = "messages"
LOCALES_DIR = Path(__file__).resolve().parent

_PLACEHOLDER = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")

# English readers here live in Denmark or Norway: day-month dates and a 24-hour clock.
_FORMAT_LOCALES = {"en": "en_GB"}

# Telegram reports the app's interface language; Norwegian apps may say "no" or "nn".
_TELEGRAM_LANGUAGE_ALIASES: dict[str, str] = {
    **{code: code for code in SUPPORTED_LOCALES}, "no": Language.NB.value, "nn": Language.NB.value,
}


def N_(message: str) -> str:
    """Mark a string for extraction where it is translated later, per reader."""
    return message


# Babel's names of the languages in their own words, written out: asking Babel for them loads
# each language's whole locale data (a megabyte or more apiece) for one word, and a bot whose
# people all read Danish would keep Norwegian's and English's for ever. tests/locales checks
# them against Babel.
_OWN_NAMES: dict[Language, str] = {
    Language.DA: "Dansk", Language.NB: "Norsk bokmål", Language.EN: "English",
}


def language_name(code: str) -> str:
    """A language in its own words ("Dansk", "Norsk bokmål", "English"), so a reader finds
    theirs whatever language the screen is in."""
    return _OWN_NAMES[Language(code)]


def placeholders(text: str) -> set[str]:
    """The ``{name}`` placeholders of a message, as a translation must keep them."""
    return set(_PLACEHOLDER.findall(text))


class CatalogError(RuntimeError):
    """A catalog is missing or cannot be compiled."""


def telegram_locale(language_code: str | None) -> str | None:
    """Map Telegram's ``language_code`` (``da``, ``nb``, ``no``, ``en-GB`` …) to ours."""
    if not language_code:
        return None
    return _TELEGRAM_LANGUAGE_ALIASES.get(language_code.lower().replace("_", "-").split("-")[0])


def negotiate_locale(
    *,
    chosen: str | None,
    telegram_language_code: str | None,
    team_language: str | None,
    default: str,
) -> str:
    """The person's choice, then Telegram's language, then the team's, then the default."""
    for candidate in (chosen, telegram_locale(telegram_language_code), team_language):
        if candidate in SUPPORTED_LOCALES:
            return candidate
    return default if default in SUPPORTED_LOCALES else SOURCE_LOCALE


@dataclass(frozen=True)
class Tr:
    """Translation and formatting bound to one reader's locale."""

    locale: str
    _translations: Translations

    @property
    def format_locale(self) -> str:
        """The locale dates and numbers are formatted in (English ones as in Britain)."""
        return _FORMAT_LOCALES.get(self.locale, self.locale)

    @property
    def babel_locale(self) -> Locale:
        return Locale.parse(self.format_locale)

    def _(self, message: str, /, **params: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**params) if params else text

    def n_(self, singular: str, plural: str, n: int, /, **params: object) -> str:
        """Plural-aware message; ``{n}`` is always available to the message."""
        text = self._translations.ngettext(singular, plural, n)
        return text.format(n=self.number(n), **params)

    def date(self, value: date, fmt: str = "full") -> str:
        return format_date(value, format=fmt, locale=self.babel_locale)

    def datetime(self, value: datetime, tz: ZoneInfo, fmt: str = "full") -> str:
        return format_datetime(value, format=fmt, tzinfo=tz, locale=self.babel_locale)

    def time(self, value: datetime | time, tz: ZoneInfo | None = None, fmt: str = "short") -> str:
        if fmt == "short" and isinstance(value, datetime) and tz is not None:
            return _short_time(self.format_locale, value, tz)
        return format_time(value, format=fmt, tzinfo=tz, locale=self.babel_locale)

    def day(self, value: datetime, tz: ZoneInfo) -> str:
        """Weekday and date in the reader's words, e.g. "torsdag den 7. januar 2027"."""
        return _full_day(self.format_locale, value.astimezone(tz).date())

    def when(self, value: datetime, tz: ZoneInfo) -> str:
        """Weekday, date and clock time, e.g. "torsdag 7. januar kl. 19.00"."""
        return self._(
            "{date} at {time}", date=self.day(value, tz), time=self.time(value, tz)
        )

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.babel_locale)


# Memoised, as Babel's own locale data is: /course formats a team's module and webinar dates
# for each member, the same few for all of them, at ~40 µs apiece (bench/updates.py). A
# result depends only on its arguments; a few thousand short strings at most.
@lru_cache(maxsize=2048)
def _full_day(format_locale: str, value: date) -> str:
    return format_date(value, format="full", locale=Locale.parse(format_locale))


@lru_cache(maxsize=2048)
def _short_time(format_locale: str, value: datetime, tz: ZoneInfo) -> str:
    return format_time(value, format="short", tzinfo=tz, locale=Locale.parse(format_locale))


class Catalogs:
    """The compiled catalogs of every supported locale."""

    def __init__(self, translations: Mapping[str, Translations]) -> None:
        self._translations = dict(translations)

    @classmethod
    def load(cls, locales_dir: Path = LOCALES_DIR) -> Catalogs:
        compiled: dict[str, Translations] = {}
        for locale in SUPPORTED_LOCALES:
            compiled[locale] = load_catalog(po_path(locale, locales_dir))
        return cls(compiled)

    def tr(self, locale: str) -> Tr:
        if locale not in self._translations:
            locale = SOURCE_LOCALE
        return Tr(locale, self._translations[locale])

    def all(self) -> list[Tr]:
        return [self.tr(locale) for locale in SUPPORTED_LOCALES]


def po_path(locale: str, locales_dir: Path = LOCALES_DIR) -> Path:
    return locales_dir / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def load_catalog(path: Path) -> Translations:
    """The compiled catalog of the ``.po`` at ``path``: the copy kept beside it when that was
    compiled from these very bytes, else compiled now and kept for the next start (where the
    directory is writable; an installed, read-only one compiles every time)."""
    source = _source(path)
    kept = compiled_copy(path, source)
    try:
        return Translations(io.BytesIO(kept.read_bytes()), domain=DOMAIN)
    except (OSError, struct.error):  # none yet, or unreadable: compile again
        pass
    compiled = _compiled(source)
    _keep(kept, compiled)
    return Translations(io.BytesIO(compiled), domain=DOMAIN)


def compiled_copy(path: Path, source: bytes) -> Path:
    """Where the compiled form of ``source`` (the bytes of the ``.po`` at ``path``) is kept."""
    digest = hashlib.blake2b(source, digest_size=10).hexdigest()
    return path.with_name(f"{path.stem}-{digest}.mo")


def _source(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CatalogError(f"translation catalog {path} is missing") from None


def _compiled(source: bytes) -> bytes:
    """The ``.po`` bytes compiled, as ``pybabel compile`` would write them."""
    # Babel's catalog tools only where a catalog is compiled: most starts read the kept copy.
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    catalog = read_po(io.BytesIO(source))
    buffer = io.BytesIO()
    # Fuzzy entries are drafts: like pybabel compile, leave them out.
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def _keep(kept: Path, compiled: bytes) -> None:
    """Write the compiled copy whole or not at all (workers may start together), and drop the
    copies of earlier versions of the same ``.po``."""
    partial: str | None = None
    try:
        with tempfile.NamedTemporaryFile(dir=kept.parent, suffix=".tmp", delete=False) as fh:
            partial = fh.name
            fh.write(compiled)
        os.replace(partial, kept)
        partial = None
        for old in kept.parent.glob(f"{kept.stem.rsplit('-', 1)[0]}-*.mo"):
            if old != kept:
                old.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only install: compile at each start instead
    finally:
        if partial is not None:
            Path(partial).unlink(missing_ok=True)
