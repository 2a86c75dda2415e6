"""Talking to people: the durable outbox and per-person dialog state."""

# Not `from __future__ import annotations` (see storage/models/__init__.py): the `Mapped[...]`
# annotations are objects, so SQLAlchemy need not eval them at each start.

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime, str_enum
from storage.models.enums import OutboxStatus


class OutboxMessage(Base):
    """A message the bot sends on its own. Planned with a dedup key (planning twice is a no-op),
    claimed with a lease (`claimed_until`) so a crashed worker's claim runs out, expired rather
    than sent late."""

    __tablename__ = "outbox"
    __table_args__ = (
        # What the dispatcher claims: due pending rows, and claims whose lease ran out.
        Index("ix_outbox_status_due_at", "status", "due_at"),
        # A person's rows (the planner, erasure) and what they were sent lately (the weekly
        # cap reads only their own sent rows, not every sent row).
        Index("ix_outbox_person_status_sent_at", "person_id", "status", "sent_at"),
        # Pending announcements of moved and cancelled webinars (few among many pending rows).
        Index("ix_outbox_kind_status", "kind", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    dedup_key: Mapped[str] = mapped_column(String(200), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Lets an instructor see how many of a broadcast got through without parsing dedup keys.
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcasts.id", ondelete="SET NULL"), index=True
    )
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)  # ignores quiet hours
    status: Mapped[OutboxStatus] = mapped_column(
        str_enum(OutboxStatus, "status"), default=OutboxStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Error class / Telegram description only — never message text.
    last_error: Mapped[str | None] = mapped_column(Text)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class MemberPlan(Base):
    """What a participant's planned outbox rows were last made from: a digest of the facts
    (team, webinars, membership, the planner's code). The periodic safety net replans only
    memberships whose facts no longer match it (dialogs/delivery/planner.py)."""

    __tablename__ = "member_plans"

    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), primary_key=True
    )
    digest: Mapped[str] = mapped_column(String(32))
    planned_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DialogState(Base):
    """What the bot waits for from a person, in the database so any worker can continue."""

    __tablename__ = "dialog_states"

    person_id: Mapped[int] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    state: Mapped[str] = mapped_column(String(64))
    # MutableDict: in-place edits (state.data["x"] = 1) are noticed and flushed.
    data: Mapped[dict[str, Any]] = mapped_column(MutableDict.as_mutable(JSON), default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
