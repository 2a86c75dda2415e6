"""SQL expressions that hand the CSV writer finished cells, on SQLite and PostgreSQL alike.

The big datasets go from the database cursor straight into `csv.writer`: no per-cell Python.
So the query itself formats each cell the way the CSV format promises (docs/exports.md): times
as ISO 8601 UTC with a ``Z``, booleans 1/0, whole numbers without a decimal point, and free
text that a spreadsheet would take for a formula neutralised with a leading apostrophe. The
result columns carry no SQLAlchemy type processing, so rows arrive as plain str/int/float.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Integer, String, case, func, literal, type_coerce
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

# OWASP "CSV injection": a cell starting with one of these is read as a formula by
# spreadsheets (tab and carriage return too: some strip them and read what follows).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NEUTRALISER = "'"


def neutralise(text: str) -> str:
    """The Python twin of `safe_text`: a leading apostrophe before a formula start."""
    return NEUTRALISER + text if text[:1] in FORMULA_STARTS else text


class iso_utc(FunctionElement[str]):
    """A timestamp as ``2027-01-08T10:00:00Z`` (UTC, whole seconds), NULL stays NULL."""

    type = String()
    inherit_cache = True


@compiles(iso_utc, "sqlite")
def _iso_sqlite(element: iso_utc, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores our times as UTC text "YYYY-MM-DD HH:MM:SS.ffffff".
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', {compiler.process(element.clauses, **kw)})"


@compiles(iso_utc, "postgresql")
def _iso_postgresql(element: iso_utc, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"""to_char(({value}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""


class iso_text_utc(FunctionElement[str]):
    """ISO 8601 text with an offset (as the planner writes it in payloads) → UTC ``…Z``."""

    type = String()
    inherit_cache = True


@compiles(iso_text_utc, "sqlite")
def _iso_text_sqlite(element: iso_text_utc, compiler: SQLCompiler, **kw: Any) -> str:
    # strftime reads "2027-01-08T09:00:00+01:00" and gives UTC; empty text gives NULL.
    return f"strftime('%Y-%m-%dT%H:%M:%SZ', NULLIF({compiler.process(element.clauses, **kw)}, ''))"


@compiles(iso_text_utc, "postgresql")
def _iso_text_postgresql(element: iso_text_utc, compiler: SQLCompiler, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return (f"""to_char(CAST(NULLIF({value}, '') AS TIMESTAMPTZ) AT TIME ZONE 'UTC', """
            """'YYYY-MM-DD"T"HH24:MI:SS"Z"')""")


class before_bar(FunctionElement[str]):
    """The part of ``"a|b"`` before the bar (the planner's ``plan`` payload: due|expires)."""

    type = String()
    inherit_cache = True


@compiles(before_bar, "sqlite")
def _before_bar_sqlite(element: before_bar, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return f"substr({x}, 1, instr({x} || '|', '|') - 1)"


@compiles(before_bar, "postgresql")
def _before_bar_postgresql(element: before_bar, compiler: SQLCompiler, **kw: Any) -> str:
    return f"split_part({compiler.process(element.clauses, **kw)}, '|', 1)"


class whole(FunctionElement[Any]):
    """A number with whole values written without a decimal point (7.0 → 7, 5.5 → 5.5)."""

    type = NullType()  # no result processing: SQLite gives int/float, PostgreSQL text
    inherit_cache = True


@compiles(whole, "sqlite")
def _whole_sqlite(element: whole, compiler: SQLCompiler, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return f"CASE WHEN {x} = CAST({x} AS INTEGER) THEN CAST({x} AS INTEGER) ELSE {x} END"


@compiles(whole, "postgresql")
def _whole_postgresql(element: whole, compiler: SQLCompiler, **kw: Any) -> str:
    # One type per CASE in PostgreSQL: text, which float8 renders shortest-exact (PG ≥ 12).
    x = compiler.process(element.clauses, **kw)
    return (f"CASE WHEN {x} = trunc({x}) THEN CAST(CAST({x} AS BIGINT) AS TEXT) "
            f"ELSE CAST({x} AS TEXT) END")


def flag(condition: ColumnElement[Any]) -> ColumnElement[int]:
    """A boolean (column or condition) as 1/0."""
    return type_coerce(case((condition, 1), else_=0), Integer)


def safe_text(value: ColumnElement[Any]) -> ColumnElement[str]:
    """Text as it may go into a CSV: a leading apostrophe before a formula start."""
    text = type_coerce(value, String)
    return type_coerce(case(
        (_first(text).in_(FORMULA_STARTS), literal(NEUTRALISER, String) + text),
        else_=text,
    ), String)


def plain(value: ColumnElement[Any]) -> ColumnElement[str]:
    """A stored enum or string without SQLAlchemy's per-row conversion."""
    return type_coerce(value, String)


def _first(text: ColumnElement[str]) -> ColumnElement[str]:
    return type_coerce(func.substr(text, 1, 1), String)
