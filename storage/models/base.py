"""Declarative base, naming convention and the column types every model shares."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

# Deterministic constraint names: Alembic can only drop or alter a constraint it can name, and
# SQLite batch migrations recreate tables, so unnamed constraints would differ per backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

COURSE_MODULES = 6
"""The course has six weekly modules; module numbers run 1..COURSE_MODULES."""


class Base(DeclarativeBase):
    """Base of every model. Not `AsyncAttrs` (`await obj.awaitable_attrs.rel` for lazy loads):
    nothing used it, and the mixin made mapping the models ~20 ms slower at every start; the
    code loads what it needs in its queries."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """`DateTime(timezone=True)` that only accepts aware datetimes and always returns UTC.

    SQLite has no time zone type and hands back naive values, PostgreSQL hands back aware ones;
    normalising here makes both backends return the same thing. Naive input is refused because
    a naive value is ambiguous and the bug it hides (local time stored as UTC) is silent.

    No column of this type has a default: every timestamp is passed in from the injected clock
    (``storage.clock``), so a test on a frozen clock sees only frozen moments in the database.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: store aware datetimes (UTC)")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite stores text; drop the offset so every stored value has the same shape and
            # string comparison in SQL stays chronological.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def str_enum(enum_cls: type[enum.StrEnum], name: str, length: int = 16) -> Enum:
    """A portable enum column: VARCHAR + CHECK on both backends, values are the enum's values.

    `native_enum=False` avoids PostgreSQL `CREATE TYPE`, which needs its own migrations for each
    new value; the CHECK constraint (named via `name`) keeps SQLite equally strict.
    """
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        validate_strings=True,
        values_callable=_enum_values,
    )


def _enum_values(enum_cls: Any) -> list[str]:
    return [member.value for member in enum_cls]
