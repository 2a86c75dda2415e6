"""Updates received by webhook, recorded before Telegram is told they arrived."""

# Not `from __future__ import annotations` (see storage/models/__init__.py): the `Mapped[...]`
# annotations are objects, so SQLAlchemy need not eval them at each start.

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, UTCDateTime


class InboxUpdate(Base):
    """One Telegram update, written and committed before the webhook answers 200 (Telegram
    never resends an acknowledged update), then handled by any worker in its chat's order.

    The payload holds what the person wrote, so it is kept only until the update is handled:
    handling clears it and sets ``handled_at``. The row stays a while after that (without the
    payload) so that a resend of an update we had recorded but not acknowledged — the worker
    died between commit and answer — is recognised by its ``update_id`` and not handled twice;
    the pump deletes such rows after ``bot.inbox.KEEP_HANDLED``.
    """

    __tablename__ = "inbox"
    __table_args__ = (
        # The claim: unhandled rows, each chat's earliest first (and "is an earlier one of
        # this chat still unhandled?").
        Index("ix_inbox_handled_at_chat_key_update_id", "handled_at", "chat_key", "update_id"),
    )

    # Telegram's update_id: increasing per bot, so it is also the order of arrival.
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The chat (or, without one, the user) whose updates must be handled in order; 0 for an
    # update that has neither.
    chat_key: Mapped[int] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
