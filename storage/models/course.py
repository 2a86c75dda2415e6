"""What happens in the course: module progress, questionnaires, action plans, attendance,
instructor broadcasts. Everything hangs off a membership and cascades with it."""

# Not `from __future__ import annotations` (see storage/models/__init__.py): the `Mapped[...]`
# annotations are objects, so SQLAlchemy need not eval them at each start.

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import COURSE_MODULES, Base, UTCDateTime, str_enum
from storage.models.enums import BroadcastStatus, Language

_MODULE_CHECK = f"BETWEEN 1 AND {COURSE_MODULES}"


class ModuleProgress(Base):
    __tablename__ = "module_progress"
    __table_args__ = (
        UniqueConstraint("membership_id", "module_no"),
        CheckConstraint(f"module_no {_MODULE_CHECK}", name="module_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    module_no: Mapped[int] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class HelpfulTool(Base):
    """A module's coping tool the participant marked as helping them. Theirs alone: it is
    shown in their own summary (/summary) and nowhere else."""

    __tablename__ = "helpful_tools"
    __table_args__ = (
        UniqueConstraint("membership_id", "module_no"),
        CheckConstraint(f"module_no {_MODULE_CHECK}", name="module_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    module_no: Mapped[int] = mapped_column(Integer)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class QuestionnaireResponse(Base):
    """One questionnaire on one occasion for one membership, from planned to completed.

    `current_item` is where the person is, so an interrupted questionnaire resumes on any worker.
    """

    __tablename__ = "questionnaire_responses"
    __table_args__ = (UniqueConstraint("membership_id", "questionnaire_key", "occasion"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    questionnaire_key: Mapped[str] = mapped_column(String(64))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    occasion: Mapped[str] = mapped_column(String(32))  # "baseline", "post", "checkin-3", …
    language: Mapped[Language] = mapped_column(str_enum(Language, "language", length=2))
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    current_item: Mapped[str | None] = mapped_column(String(64))
    # When emergency numbers were shown for a low wellbeing answer (shown once per response).
    safety_shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    answers: Mapped[list["Answer"]] = relationship(
        back_populates="response",
        order_by="Answer.id",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class Answer(Base):
    __tablename__ = "answers"
    __table_args__ = (UniqueConstraint("response_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_responses.id", ondelete="CASCADE"), index=True
    )
    item_key: Mapped[str] = mapped_column(String(64))
    value_number: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)
    skipped: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    response: Mapped["QuestionnaireResponse"] = relationship(back_populates="answers")


class ActionPlan(Base):
    """The weekly action plan of the self-management method: what, how much, when, how often,
    and how confident (0..10) the person is they will do it."""

    __tablename__ = "action_plans"
    __table_args__ = (
        CheckConstraint(f"week {_MODULE_CHECK}", name="week"),
        CheckConstraint("confidence BETWEEN 0 AND 10", name="confidence"),
        CheckConstraint("days_per_week BETWEEN 1 AND 7", name="days_per_week"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    week: Mapped[int] = mapped_column(Integer)
    what: Mapped[str] = mapped_column(Text)
    how_much: Mapped[str | None] = mapped_column(Text)
    when: Mapped[str | None] = mapped_column(Text)
    days_per_week: Mapped[int | None] = mapped_column(Integer)
    confidence: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(32))  # e.g. "done", "partly", "not"
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("session_id", "membership_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("webinar_sessions.id", ondelete="CASCADE"), index=True
    )
    membership_id: Mapped[int] = mapped_column(
        ForeignKey("memberships.id", ondelete="CASCADE"), index=True
    )
    attended: Mapped[bool] = mapped_column(Boolean)
    # The instructor's membership; SET NULL keeps the mark when the instructor is erased.
    marked_by: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Broadcast(Base):
    """An instructor's message to the team: drafted, previewed, then confirmed (or cancelled).
    Delivery is one outbox row per recipient pointing back here."""

    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    # SET NULL: the team keeps its broadcasts when the author erases themselves.
    author_membership_id: Mapped[int | None] = mapped_column(
        ForeignKey("memberships.id", ondelete="SET NULL"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    media_kind: Mapped[str | None] = mapped_column(String(16))  # "photo", "document", …
    media_file_id: Mapped[str | None] = mapped_column(String(255))  # Telegram file_id
    status: Mapped[BroadcastStatus] = mapped_column(
        str_enum(BroadcastStatus, "status"), default=BroadcastStatus.DRAFT
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
