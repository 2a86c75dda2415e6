"""String enums stored as VARCHAR + CHECK (see `str_enum`). Values are part of the schema."""

from __future__ import annotations

import enum


class Country(enum.StrEnum):
    DK = "DK"
    NO = "NO"


class Language(enum.StrEnum):
    DA = "da"
    NB = "nb"
    EN = "en"


class Role(enum.StrEnum):
    """A person's role in one team."""

    PARTICIPANT = "participant"
    INSTRUCTOR = "instructor"


class InviteRole(enum.StrEnum):
    """Whom an invite is for; coordinator invites belong to a municipality, not a team."""

    PARTICIPANT = "participant"
    INSTRUCTOR = "instructor"
    COORDINATOR = "coordinator"


class MembershipStatus(enum.StrEnum):
    ACTIVE = "active"
    LEFT = "left"


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    SENT = "sent"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class BroadcastStatus(enum.StrEnum):
    DRAFT = "draft"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
