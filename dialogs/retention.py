"""Retention: a team's people are erased a set time after its course has ended.

The course ends with the follow-up questionnaire: the last webinar, then the follow-up
``followup_after`` later, open for ``evaluation_open_for``. Retention is counted from there, so
nothing is erased while the research may still ask a question.

Memberships in an expired team are erased (with everything hanging off them); a person left
with no membership and no coordinator grant is then erased entirely. A person who is still in
another, running team keeps that team's data. The audit log keeps study IDs and the fact only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.delivery.config import DeliveryConfig
from dialogs.privacy import Reason, audit_subject, erase_person
from storage.models import AuditLog, CoordinatorGrant, Membership, WebinarSession

DEFAULT_RETENTION = timedelta(days=365)
ACTOR = "system:retention"


def course_end(last_webinar_start: datetime, config: DeliveryConfig | None = None) -> datetime:
    """When the last question of a course can still be answered (the follow-up closes)."""
    config = config or DeliveryConfig()
    return last_webinar_start + config.followup_after + config.evaluation_open_for


async def expired_team_ids(
    session: AsyncSession, now: datetime, retention: timedelta,
    config: DeliveryConfig | None = None,
) -> list[int]:
    """Teams whose course ended more than ``retention`` ago (teams without webinars never do)."""
    config = config or DeliveryConfig()
    # The last webinar must have started before this for the team to be expired.
    cutoff = now - retention - config.followup_after - config.evaluation_open_for
    last = (
        select(WebinarSession.team_id, func.max(WebinarSession.starts_at).label("last"))
        .group_by(WebinarSession.team_id).subquery()
    )
    result = await session.scalars(
        select(last.c.team_id).where(last.c.last < cutoff).order_by(last.c.team_id)
    )
    return list(result)


@dataclass(frozen=True)
class RetentionRun:
    people_erased: int = 0  # erased entirely
    memberships_erased: int = 0  # with everything under them, the people's included


async def erase_expired(
    session: AsyncSession, now: datetime, retention: timedelta = DEFAULT_RETENTION,
    config: DeliveryConfig | None = None, *, throttle_secret: bytes,
) -> RetentionRun:
    """Erase the memberships of expired teams and the people left with nothing. Runs in the
    caller's transaction."""
    team_ids = await expired_team_ids(session, now, retention, config)
    if not team_ids:
        return RetentionRun()
    memberships = (await session.execute(
        select(Membership.id, Membership.person_id, Membership.study_id)
        .where(Membership.team_id.in_(team_ids)).order_by(Membership.id)
    )).all()
    if not memberships:
        return RetentionRun()
    person_ids = sorted({person_id for _, person_id, _ in memberships})
    erased = 0
    for person_id in person_ids:
        others = await session.scalar(select(exists().where(
            Membership.person_id == person_id, Membership.team_id.not_in(team_ids)
        )))
        grants = await session.scalar(select(exists().where(
            CoordinatorGrant.person_id == person_id, CoordinatorGrant.revoked_at.is_(None)
        )))
        if not others and not grants:
            result = await erase_person(session, person_id, now, reason=Reason.RETENTION,
                                        throttle_secret=throttle_secret, actor=ACTOR)
            erased += int(result.erased)
            continue
        # Still active elsewhere: only this team's part goes.
        mine = [(m_id, study_id) for m_id, p_id, study_id in memberships if p_id == person_id]
        await session.execute(
            delete(Membership).where(Membership.id.in_([m_id for m_id, _ in mine]))
            .execution_options(synchronize_session=False)
        )
        study_ids = [study_id for _, study_id in mine]
        session.add(AuditLog(at=now, actor=ACTOR, action="membership_erased",
                             subject=audit_subject(study_ids),
                             details={"reason": Reason.RETENTION.value, "study_ids": study_ids}))
    return RetentionRun(erased, len(memberships))

