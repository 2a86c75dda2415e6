"""Getting in and being accountable: invites, invite throttling, consent, audit log."""

# Not `from __future__ import annotations` (see storage/models/__init__.py): the `Mapped[...]`
# annotations are objects, so SQLAlchemy need not eval them at each start.

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, str_enum
from storage.models.enums import InviteRole


class Invite(Base):
    """An invite link. Only the sha256 of the code is stored, so a database leak opens no door."""

    __tablename__ = "invites"
    __table_args__ = (
        # Team invites need a team; coordinator invites need a municipality.
        CheckConstraint(
            "(role = 'coordinator' AND municipality_id IS NOT NULL)"
            " OR (role <> 'coordinator' AND team_id IS NOT NULL)",
            name="target",
        ),
        CheckConstraint("uses >= 0", name="uses"),
        CheckConstraint("max_uses IS NULL OR max_uses > 0", name="max_uses"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="CASCADE"), index=True
    )
    municipality_id: Mapped[int | None] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[InviteRole] = mapped_column(str_enum(InviteRole, "role"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    max_uses: Mapped[int | None] = mapped_column(Integer)  # None = unlimited
    uses: Mapped[int] = mapped_column(Integer, default=0)


class InviteAttempt(Base):
    """A wrong invite code, for throttling guessers.

    Deliberately person-free: `key` is a keyed hash of the Telegram user id (see
    `storage.ids.attempt_key`), so the table can be kept and pruned without holding identities.
    """

    __tablename__ = "invite_attempts"
    __table_args__ = (Index("ix_invite_attempts_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Consent(Base):
    """Every consent answer is kept (given or refused), with the text version it answered."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    given: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Exports, role grants and other privileged acts.

    `actor` is a study ID or "cli:<user>", never a name or Telegram id; no FKs, so the trail
    outlives the people in it without identifying them.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
