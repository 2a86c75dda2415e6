"""Data rights: see everything stored about you (/mydata), delete it (/delete), withdraw consent.

What a person "owns" is found by walking the schema, not listed by hand: every table with an
``ON DELETE CASCADE`` path to ``persons`` holds rows that erasure removes, so the same walk
builds the export. A new table therefore appears in /mydata the day it is created, and /mydata
shows exactly what /delete erases. Rows that only *point at* a person with ``SET NULL`` (an
attendance mark an instructor set, a broadcast they wrote) belong to someone else or to the
team: they are counted in the export, not copied, so no other person's data leaks into it.

Confirm buttons carry a keyed MAC over (person, action, time), so a forged or old confirmation
is refused without keeping any state; the person just types /delete again.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Table, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs import signing
from dialogs.callbacks import INT, TEXT, Action, CallbackDataError, callback
from dialogs.delivery import outbox
from dialogs.onboarding import PRIVACY_NOTICE_VERSION
from dialogs.screen import Button, Screen
from locales.i18n import Tr
from storage import queries
from storage.ids import attempt_key
from storage.models import (
    AuditLog,
    Base,
    Consent,
    InviteAttempt,
    Membership,
    Municipality,
    Person,
    Team,
)

EXPORT_FORMAT = "mestring-mydata-1"
ROOT_TABLE = "persons"

# Callback actions: v1:pv:get | v1:pv:ask:<kind> | v1:pv:yes:<kind>:<issued>:<mac> | v1:pv:no
# pv:get · pv:ask:<kind> · pv:no · pv:yes:<kind>:<minute issued>:<mac>; the handler reads the
# kind and the MAC itself, so a forged confirmation is answered as an expired one.
ACTION = Action("pv", forms={"get": (), "ask": (TEXT,), "no": (), "yes": (TEXT, INT, TEXT)})
CONFIRM_VALID_FOR = timedelta(minutes=15)


class Kind(enum.StrEnum):
    """What the person asked for: erasure, or withdrawing consent (which also erases)."""

    DELETE = "del"
    WITHDRAW = "wd"


class Reason(enum.StrEnum):
    """Why a person was erased, as the audit log records it."""

    REQUEST = "request"
    WITHDRAWAL = "withdrawal"
    RETENTION = "retention"


# -- the schema walk ---------------------------------------------------------------------------


def owned_tables(metadata: Any = Base.metadata) -> list[Table]:
    """Tables whose rows belong to one person, parents before children (``persons`` first).

    A table is owned when a CASCADE foreign key leads to an owned table: these are exactly the
    rows the database removes when the person is deleted.
    """
    owned: list[Table] = []
    names: set[str] = set()
    for table in metadata.sorted_tables:
        if table.name == ROOT_TABLE or any(
            fk.ondelete == "CASCADE" and fk.column.table.name in names
            for fk in table.foreign_keys
        ):
            owned.append(table)
            names.add(table.name)
    return owned


def referencing_tables(metadata: Any = Base.metadata) -> dict[str, list[str]]:
    """Not-owned tables with a foreign key into owned tables: ``table -> [column, …]``.

    Their rows are someone else's (SET NULL keeps them after an erasure); the export counts them.
    """
    owned = {t.name for t in owned_tables(metadata)}
    refs: dict[str, list[str]] = {}
    for table in metadata.sorted_tables:
        if table.name in owned:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name in owned:
                refs.setdefault(table.name, []).append(fk.parent.name)
    return refs


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


async def _owned_rows(session: AsyncSession, person_id: int) -> dict[str, list[dict[str, Any]]]:
    """Every owned row of the person, table by table, following the CASCADE keys down."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for table in owned_tables():
        if table.name == ROOT_TABLE:
            condition = table.c.id == person_id
        else:
            conditions = []
            for fk in table.foreign_keys:
                parent = fk.column.table.name
                if fk.ondelete != "CASCADE" or parent not in rows:
                    continue
                keys = {row[fk.column.name] for row in rows[parent]}
                if keys:
                    conditions.append(fk.parent.in_(keys))
            if not conditions:
                rows[table.name] = []
                continue
            # Several CASCADE keys into owned tables all point at this person's rows: any will do.
            condition = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
            for extra in conditions[2:]:
                condition = condition | extra
        primary = list(table.primary_key.columns)
        result = await session.execute(select(table).where(condition).order_by(*primary))
        rows[table.name] = [dict(row._mapping) for row in result]
    return rows


async def _reference_counts(session: AsyncSession, rows: Mapping[str, list[dict[str, Any]]],
                            ) -> dict[str, int]:
    counts: dict[str, int] = {}
    metadata = Base.metadata
    for table_name, columns in referencing_tables().items():
        table = metadata.tables[table_name]
        for column_name in columns:
            column = table.c[column_name]
            fk = next(iter(column.foreign_keys))
            keys = {row[fk.column.name] for row in rows.get(fk.column.table.name, [])}
            if not keys:
                continue
            n = await session.scalar(select(func.count()).select_from(table)
                                     .where(column.in_(keys)))
            if n:
                counts[f"{table_name}.{column_name}"] = int(n)
    return counts


# -- use-cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataExport:
    """Everything stored about one person, ready to send as a file."""

    study_ids: tuple[str, ...]
    counts: Mapping[str, int]
    content: bytes

    @property
    def filename(self) -> str:
        return f"mydata-{self.study_ids[0]}.json" if self.study_ids else "mydata.json"


async def export_person(session: AsyncSession, person_id: int, now: datetime) -> DataExport | None:
    """The person's data as JSON (every owned table, teams by name), or None if unknown."""
    rows = await _owned_rows(session, person_id)
    if not rows.get(ROOT_TABLE):
        return None
    memberships = rows.get(Membership.__tablename__, [])
    team_ids = {m["team_id"] for m in memberships}
    teams = []
    if team_ids:
        result = await session.execute(
            select(Team.id, Team.name, Municipality.name)
            .join(Municipality, Team.municipality_id == Municipality.id)
            .where(Team.id.in_(team_ids)).order_by(Team.id)
        )
        teams = [{"id": i, "name": n, "municipality": m} for i, n, m in result]
    document = {
        "format": EXPORT_FORMAT,
        "exported_at": now.isoformat(),
        "privacy_notice_version": PRIVACY_NOTICE_VERSION,
        "person": _plain(rows[ROOT_TABLE][0]),
        "tables": {
            name: [_plain(row) for row in table_rows]
            for name, table_rows in rows.items() if name != ROOT_TABLE
        },
        "teams": teams,
        # Rows of other people or of the team that point at this person (not copied).
        "referenced_by": await _reference_counts(session, rows),
    }
    study_ids = tuple(str(m["study_id"]) for m in memberships)
    counts = {name: len(table_rows) for name, table_rows in rows.items() if name != ROOT_TABLE}
    content = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=False).encode()
    return DataExport(study_ids, counts, content)


@dataclass(frozen=True)
class Erasure:
    erased: bool
    study_ids: tuple[str, ...] = ()
    cancelled_messages: int = 0


async def _study_ids(session: AsyncSession, person_id: int) -> tuple[str, ...]:
    result = await session.scalars(
        select(Membership.study_id).where(Membership.person_id == person_id)
        .order_by(Membership.id)
    )
    return tuple(result)


def audit_subject(study_ids: Sequence[str]) -> str | None:
    """Study IDs for the audit log's subject column (128 characters)."""
    text = ",".join(study_ids)
    return text[:128] if text else None


def erased_tables() -> list[str]:
    """The tables an erasure deletes from: what must be purged of old copies afterwards."""
    return [*(t.name for t in owned_tables()), InviteAttempt.__tablename__]


async def erase_person(
    session: AsyncSession,
    person_id: int,
    now: datetime,
    *,
    reason: Reason,
    throttle_secret: bytes,
    actor: str | None = None,
) -> Erasure:
    """Erase the person; the FK cascades take memberships, answers, plans, consents, dialog
    state and outbox rows along, and the wrong-code throttle rows keyed by their Telegram ID
    (``throttle_secret`` is the key) go too. The audit log keeps only the study IDs and the
    fact. Call :func:`storage.scrub.purge_erased_copies` after the transaction commits."""
    study_ids = await _study_ids(session, person_id)
    telegram_user_id = await session.scalar(
        select(Person.telegram_user_id).where(Person.id == person_id))
    # Cancel first: a dispatcher that claimed a row before the delete must not find it pending.
    cancelled = await outbox.cancel_pending(session, reason="erased", person_id=person_id)
    if telegram_user_id is None or not await queries.delete_person(session, person_id):
        return Erasure(False)
    await session.execute(delete(InviteAttempt).where(
        InviteAttempt.key == attempt_key(telegram_user_id, throttle_secret)))
    session.add(AuditLog(
        at=now,
        actor=actor or (study_ids[0] if study_ids else "self"),
        action="person_erased",
        subject=audit_subject(study_ids),
        details={"reason": reason.value, "study_ids": list(study_ids)},
    ))
    return Erasure(True, study_ids, cancelled)


async def withdraw_consent(
    session: AsyncSession, person_id: int, now: datetime, *, throttle_secret: bytes
) -> Erasure:
    """Consent withdrawn: stop every message, record the answer, then erase as /delete does.

    The Consent row (given=False) is written first so the withdrawal happens in the same
    transaction as the stop; the erasure then removes it with the rest, and the audit log keeps
    the fact with the notice version.
    """
    cancelled = await outbox.cancel_pending(session, reason="consent withdrawn",
                                            person_id=person_id)
    session.add(Consent(person_id=person_id, version=PRIVACY_NOTICE_VERSION, given=False, at=now))
    await session.flush()
    study_ids = await _study_ids(session, person_id)
    session.add(AuditLog(
        at=now, actor=study_ids[0] if study_ids else "self", action="consent_withdrawn",
        subject=audit_subject(study_ids), details={"version": PRIVACY_NOTICE_VERSION},
    ))
    erasure = await erase_person(session, person_id, now, reason=Reason.WITHDRAWAL,
                                 throttle_secret=throttle_secret)
    return Erasure(erasure.erased, erasure.study_ids, cancelled + erasure.cancelled_messages)


# -- confirm buttons ---------------------------------------------------------------------------


def confirm_callback(secret: bytes, person_id: int, kind: Kind, now: datetime) -> str:
    issued, mac = signing.sign(secret, (person_id, kind.value), now)
    return callback(ACTION, "yes", kind.value, issued, mac)


def check_confirmation(
    secret: bytes, person_id: int, args: Sequence[str], now: datetime
) -> Kind:
    """The kind a confirm button asks for, if it was made for this person lately.

    Raises :class:`CallbackDataError` for a forged, foreign or expired button.
    """
    try:
        kind_value, issued_text, mac = args
        kind = Kind(kind_value)
        issued = int(issued_text)
    except ValueError as exc:
        raise CallbackDataError("malformed confirmation") from exc
    if not signing.verify(secret, (person_id, kind.value), issued, mac, now, CONFIRM_VALID_FOR):
        raise CallbackDataError("confirmation not made for this person, or expired")
    return kind


# -- screens -----------------------------------------------------------------------------------


def privacy_screen(tr: Tr) -> Screen:
    """/privacy: what is kept, and the three rights at hand."""
    text = "\n\n".join((
        tr._("<b>Your data</b>"),
        tr._("I keep your answers, your plans, your progress and the name you chose. "
             "Your instructor sees your name and progress, not your answers."),
        tr._("You can get a copy of your data. You can also delete it."),
        tr._("If you withdraw your consent, I stop writing to you and delete your data."),
    ))
    return Screen.of(
        text,
        [Button(tr._("Get my data"), callback(ACTION, "get"))],
        [Button(tr._("Delete my data"), callback(ACTION, "ask", Kind.DELETE.value))],
        [Button(tr._("Withdraw consent"), callback(ACTION, "ask", Kind.WITHDRAW.value))],
    )


def confirm_screen(tr: Tr, kind: Kind, confirm: str) -> Screen:
    if kind is Kind.WITHDRAW:
        first = tr._("Do you want to withdraw your consent?")
    else:
        first = tr._("Do you want to delete your data?")
    text = "\n\n".join((
        f"<b>{first}</b>",
        tr._("I stop all messages. I delete your answers, plans, progress and name. "
             "This cannot be undone."),
        tr._("Tip: type /mydata first if you want a copy."),
    ))
    return Screen.of(
        text,
        [Button(tr._("Yes, delete everything"), confirm)],
        [Button(tr._("No, keep my data"), callback(ACTION, "no"))],
    )


def kept_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("Good. Nothing is deleted."))


def erased_screen(tr: Tr) -> Screen:
    return Screen.of("\n\n".join((
        tr._("Your data is deleted. I will not write to you again."),
        tr._("The messages in this chat are still on your phone. "
             "You can delete the chat in Telegram."),
        tr._("Do you want to join again later? Then open the invite link from your "
             "municipality."),
        tr._("Take good care of yourself."),
    )))


def expired_confirmation_text(tr: Tr) -> str:
    """An alert (at most 200 characters) for a confirm button that is old or not theirs."""
    return tr._("This button has expired, so nothing was deleted. Type /delete to start again.")


def nothing_stored_screen(tr: Tr) -> Screen:
    return Screen.of(tr._("I have not saved anything about you."))


def mydata_summary(tr: Tr, export: DataExport) -> str:
    """The short caption that goes with the file: what is in it, in numbers."""
    counts = export.counts
    answers = counts.get("answers", 0)
    lines = [
        tr._("Here is everything I have saved about you."),
    ]
    if export.study_ids:
        lines.append(tr._("Your code number: {code}", code=", ".join(export.study_ids)))
    lines.append("\n".join((
        tr._("Answers: {n}", n=tr.number(answers)),
        tr._("Plans: {n}", n=tr.number(counts.get("action_plans", 0))),
        tr._("Modules: {n}", n=tr.number(counts.get("module_progress", 0))),
        tr._("Planned messages: {n}", n=tr.number(counts.get("outbox", 0))),
    )))
    lines.append(tr._("Type /delete if you want me to delete it."))
    return "\n\n".join(lines)


def parse_kind(value: str) -> Kind:
    try:
        return Kind(value)
    except ValueError as exc:
        raise CallbackDataError("unknown privacy kind") from exc
