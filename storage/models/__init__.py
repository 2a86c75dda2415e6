"""All models, importable from one place: `from storage.models import Person, Team, ...`.

Importing this package registers every table on `Base.metadata` (Alembic relies on that).
"""

from __future__ import annotations

from storage.models.access import AuditLog, Consent, Invite, InviteAttempt
from storage.models.base import COURSE_MODULES, NAMING_CONVENTION, Base, UTCDateTime
from storage.models.course import (
    ActionPlan,
    Answer,
    Attendance,
    Broadcast,
    HelpfulTool,
    ModuleProgress,
    QuestionnaireResponse,
)
from storage.models.delivery import DialogState, MemberPlan, OutboxMessage
from storage.models.enums import (
    BroadcastStatus,
    Country,
    InviteRole,
    Language,
    MembershipStatus,
    OutboxStatus,
    Role,
    SessionStatus,
)
from storage.models.inbox import InboxUpdate
from storage.models.org import (
    DEFAULT_REMINDER_OFFSETS_MINUTES,
    DEFAULT_TIMEZONE,
    CoordinatorGrant,
    Membership,
    Municipality,
    Person,
    Team,
    WebinarSession,
)

__all__ = [
    "COURSE_MODULES",
    "DEFAULT_REMINDER_OFFSETS_MINUTES",
    "DEFAULT_TIMEZONE",
    "NAMING_CONVENTION",
    "ActionPlan",
    "Answer",
    "Attendance",
    "AuditLog",
    "Base",
    "Broadcast",
    "BroadcastStatus",
    "Consent",
    "CoordinatorGrant",
    "Country",
    "DialogState",
    "HelpfulTool",
    "InboxUpdate",
    "Invite",
    "InviteAttempt",
    "InviteRole",
    "Language",
    "MemberPlan",
    "Membership",
    "MembershipStatus",
    "ModuleProgress",
    "Municipality",
    "OutboxMessage",
    "OutboxStatus",
    "Person",
    "QuestionnaireResponse",
    "Role",
    "SessionStatus",
    "Team",
    "UTCDateTime",
    "WebinarSession",
]
