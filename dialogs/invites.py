"""Invite codes: made, checked, revoked, and wrong guesses throttled.

Only a hash of each code is stored, so a leaked database does not let anyone join a team.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.ids import attempt_key, hash_invite_code, new_invite_code
from storage.models import AuditLog, Invite, InviteAttempt, InviteRole, Municipality, Team

DEFAULT_PARTICIPANT_VALIDITY = timedelta(days=60)
DEFAULT_STAFF_VALIDITY = timedelta(days=14)
# Telegram's /start payload: at most 64 characters from [A-Za-z0-9_-].
MAX_PAYLOAD = 64
THROTTLE_WINDOW = timedelta(hours=1)
THROTTLE_MAX_WRONG = 5


class InviteStatus(enum.StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED_UP = "used_up"


@dataclass(frozen=True)
class InviteCheck:
    status: InviteStatus
    invite: Invite | None = None

    @property
    def ok(self) -> bool:
        return self.status is InviteStatus.OK


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    code: str


def looks_like_code(payload: str) -> bool:
    return 0 < len(payload) <= MAX_PAYLOAD and all(
        c.isascii() and (c.isalnum() or c in "_-") for c in payload
    )


async def create_invite(
    session: AsyncSession,
    *,
    team: Team,
    role: InviteRole,
    now: datetime,
    created_by: str,
    valid_for: timedelta | None = None,
    max_uses: int | None = None,
) -> NewInvite:
    """A fresh invite; staff invites are single-use unless told otherwise."""
    if valid_for is None:
        valid_for = (
            DEFAULT_PARTICIPANT_VALIDITY if role is InviteRole.PARTICIPANT
            else DEFAULT_STAFF_VALIDITY
        )
    if max_uses is None and role is not InviteRole.PARTICIPANT:
        max_uses = 1
    code = new_invite_code()
    invite = Invite(
        team_id=team.id,
        municipality_id=team.municipality_id,
        role=role,
        code_hash=hash_invite_code(code),
        created_at=now,
        created_by=created_by,
        expires_at=now + valid_for,
        max_uses=max_uses,
        uses=0,
    )
    session.add(invite)
    await session.flush()
    session.add(AuditLog(
        at=now, actor=created_by, action="invite.create", subject=f"invite:{invite.id}",
        details={"team_id": team.id, "role": str(role),
                 "expires_at": invite.expires_at.isoformat()},
    ))
    return NewInvite(invite, code)


async def create_municipality_invite(
    session: AsyncSession, *, municipality: Municipality, now: datetime, created_by: str,
    valid_for: timedelta = DEFAULT_STAFF_VALIDITY,
) -> NewInvite:
    """A single-use invite that makes its opener coordinator of one municipality."""
    code = new_invite_code()
    invite = Invite(
        team_id=None, municipality_id=municipality.id, role=InviteRole.COORDINATOR,
        code_hash=hash_invite_code(code), created_at=now, created_by=created_by,
        expires_at=now + valid_for, max_uses=1, uses=0,
    )
    session.add(invite)
    await session.flush()
    session.add(AuditLog(
        at=now, actor=created_by, action="invite.create", subject=f"invite:{invite.id}",
        details={"municipality_id": municipality.id, "role": str(InviteRole.COORDINATOR),
                 "expires_at": invite.expires_at.isoformat()},
    ))
    return NewInvite(invite, code)


async def check_invite(session: AsyncSession, code: str, now: datetime) -> InviteCheck:
    if not looks_like_code(code):
        return InviteCheck(InviteStatus.UNKNOWN)
    invite = await session.scalar(select(Invite).where(Invite.code_hash == hash_invite_code(code)))
    if invite is None:
        return InviteCheck(InviteStatus.UNKNOWN)
    if invite.revoked_at is not None:
        return InviteCheck(InviteStatus.REVOKED, invite)
    if invite.expires_at is not None and invite.expires_at <= now:
        return InviteCheck(InviteStatus.EXPIRED, invite)
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return InviteCheck(InviteStatus.USED_UP, invite)
    return InviteCheck(InviteStatus.OK, invite)


async def revoke_invite(
    session: AsyncSession, invite_id: int, *, now: datetime, actor: str
) -> bool:
    invite = await session.get(Invite, invite_id)
    if invite is None or invite.revoked_at is not None:
        return False
    invite.revoked_at = now
    session.add(AuditLog(at=now, actor=actor, action="invite.revoke",
                         subject=f"invite:{invite.id}", details={}))
    return True


async def is_throttled(
    session: AsyncSession, telegram_user_id: int, secret: bytes, now: datetime
) -> bool:
    """Too many wrong codes from this person lately: stop guessing for a while."""
    key = attempt_key(telegram_user_id, secret)
    wrong = await session.scalar(
        select(func.count()).select_from(InviteAttempt).where(
            InviteAttempt.key == key, InviteAttempt.at > now - THROTTLE_WINDOW
        )
    )
    return (wrong or 0) >= THROTTLE_MAX_WRONG


async def record_wrong_code(
    session: AsyncSession, telegram_user_id: int, secret: bytes, now: datetime
) -> None:
    """Remember a wrong guess under a keyed hash, and forget guesses past the window."""
    session.add(InviteAttempt(key=attempt_key(telegram_user_id, secret), at=now))
    await session.execute(delete(InviteAttempt).where(InviteAttempt.at <= now - THROTTLE_WINDOW))
