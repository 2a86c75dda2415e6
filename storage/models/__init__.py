"""All models, importable from one place: `from storage.models import Person, Team, ...`.

Importing this package registers every table on `Base.metadata` (Alembic relies on that).

The modules that declare tables do without `from __future__ import annotations`, unlike the rest
of the code: with it, every `Mapped[...]` annotation is a string that SQLAlchemy turns back into
a type with `eval` when the class is mapped — 167 of them in every process's start, a quarter of
the models' import time (~30 ms). Written as objects, Python builds them once as it runs the
class body. A relationship names its target class in quotes (`Mapped[list["Team"]]`), resolved
by SQLAlchemy's registry once every model exists; tests/storage/test_models_typed.py keeps it so.
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
