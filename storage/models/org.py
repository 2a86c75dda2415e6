"""Who and where: municipalities, teams and their webinars, people and their roles."""

# Not `from __future__ import annotations` (see storage/models/__init__.py): the `Mapped[...]`
# annotations are objects, so SQLAlchemy need not eval them at each start.

from datetime import datetime, time

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import COURSE_MODULES, Base, UTCDateTime, str_enum
from storage.models.enums import (
    Country,
    Language,
    MembershipStatus,
    Role,
    SessionStatus,
)

DEFAULT_TIMEZONE = "Europe/Copenhagen"
DEFAULT_REMINDER_OFFSETS_MINUTES = (1440, 60)
"""Webinar reminders: a day before and an hour before."""


class Municipality(Base):
    __tablename__ = "municipalities"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    country: Mapped[Country] = mapped_column(str_enum(Country, "country", length=2))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    default_language: Mapped[Language] = mapped_column(
        str_enum(Language, "default_language", length=2)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    teams: Mapped[list["Team"]] = relationship(back_populates="municipality")


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("municipality_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: removing a municipality must not silently take teams and their study data along.
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="RESTRICT"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    language: Mapped[Language] = mapped_column(str_enum(Language, "language", length=2))
    # The zone the team's weekly time is defined in (normally the municipality's). Kept on the
    # team so planning never needs a join and a team may run in another zone.
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    webinar_url: Mapped[str | None] = mapped_column(Text)
    reminder_offsets_minutes: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: list(DEFAULT_REMINDER_OFFSETS_MINUTES)
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    municipality: Mapped["Municipality"] = relationship(back_populates="teams")
    sessions: Mapped[list["WebinarSession"]] = relationship(
        back_populates="team",
        order_by="WebinarSession.module_no",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )
    memberships: Mapped[list["Membership"]] = relationship(back_populates="team")


class WebinarSession(Base):
    """The live webinar of one module for one team."""

    __tablename__ = "webinar_sessions"
    __table_args__ = (
        UniqueConstraint("team_id", "module_no"),
        CheckConstraint(f"module_no BETWEEN 1 AND {COURSE_MODULES}", name="module_no"),
        CheckConstraint("duration_minutes > 0", name="duration_minutes"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    module_no: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    duration_minutes: Mapped[int] = mapped_column(Integer, default=60)
    status: Mapped[SessionStatus] = mapped_column(
        str_enum(SessionStatus, "status"), default=SessionStatus.SCHEDULED
    )
    # Overrides the team's webinar_url for this one session (e.g. a moved meeting room).
    join_url: Mapped[str | None] = mapped_column(Text)
    # Original start of a moved session, so reminders can say "moved from …".
    moved_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # iCalendar SEQUENCE: one more with every move or cancellation, so a phone calendar
    # applies the updated file to the event it already has (dialogs/calendar.py).
    calendar_sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    team: Mapped["Team"] = relationship(back_populates="sessions")


class Person(Base):
    """Anyone who talks to the bot. Erasing this row erases everything they own (FK cascades)."""

    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    display_name: Mapped[str | None] = mapped_column(String(128))
    # Chosen by the person; None means "derive from telegram_language_code / team".
    locale: Mapped[Language | None] = mapped_column(str_enum(Language, "locale", length=2))
    telegram_language_code: Mapped[str | None] = mapped_column(String(16))
    # The person's own zone for showing dates; None means the team's zone.
    timezone: Mapped[str | None] = mapped_column(String(64))
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Local wall-clock quiet hours for non-urgent messages; None means the bot's default.
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    # Set when Telegram says the person blocked the bot; delivery stops until they return.
    unreachable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    # passive_deletes: the database cascades; the ORM must not try to load and null children.
    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )


class Membership(Base):
    """A person's role in one team. Its study_id is the only identifier exports carry."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("person_id", "team_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    # RESTRICT: deleting a team with members would destroy research data by accident.
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"), index=True)
    role: Mapped[Role] = mapped_column(str_enum(Role, "role"))
    study_id: Mapped[str] = mapped_column(String(16), unique=True)
    status: Mapped[MembershipStatus] = mapped_column(
        str_enum(MembershipStatus, "status"), default=MembershipStatus.ACTIVE
    )
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped["Person"] = relationship(back_populates="memberships")
    team: Mapped["Team"] = relationship(back_populates="memberships")


class CoordinatorGrant(Base):
    """A person may coordinate (create teams, export) for one municipality."""

    __tablename__ = "coordinator_grants"
    # One row per pair: re-granting clears revoked_at instead of piling up rows.
    __table_args__ = (UniqueConstraint("person_id", "municipality_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    municipality_id: Mapped[int] = mapped_column(
        ForeignKey("municipalities.id", ondelete="CASCADE"), index=True
    )
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # An actor label like in the audit log ("cli:<user>", a study ID), not a foreign key, so the
    # grant survives the granter's erasure without naming them.
    granted_by: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    municipality: Mapped["Municipality"] = relationship()
