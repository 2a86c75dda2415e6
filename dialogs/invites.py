"""Invite codes: made, checked, redeemed, revoked, and wrong guesses throttled.

Only a hash of each code is stored, so a leaked database does not let anyone join a team.
Every kind of invite — participants', an instructor's, a coordinator's — is redeemed by one
use-case, :func:`redeem_invite`, which counts the use at most once however many people open
the link at the same moment.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import queries
from storage.ids import attempt_key, hash_invite_code, new_invite_code
from storage.models import (
    AuditLog,
    Consent,
    Invite,
    InviteAttempt,
    InviteRole,
    Municipality,
    Person,
    Team,
)

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
    THROTTLED = "throttled"  # too many wrong codes from this person lately: not even looked up


@dataclass(frozen=True)
class Guesser:
    """Who typed or pressed a code, for the wrong-code throttle: every code a person brings
    (a /start link, a button that carries one) is checked through :func:`check_invite` with
    them, so no path lets anyone guess without limit."""

    telegram_user_id: int
    secret: bytes  # Services.throttle_secret: the rows are keyed, never a raw Telegram ID


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


async def check_invite(
    session: AsyncSession, code: str, now: datetime, *, guesser: Guesser | None = None
) -> InviteCheck:
    """What the code is worth now. With a ``guesser`` (a person brought the code), a person
    with too many wrong codes lately gets THROTTLED without a look-up, and a wrong code counts;
    that writes, so the session must be a write transaction."""
    if guesser is not None and await is_throttled(
            session, guesser.telegram_user_id, guesser.secret, now):
        return InviteCheck(InviteStatus.THROTTLED)
    invite = None
    if looks_like_code(code):
        invite = await session.scalar(
            select(Invite).where(Invite.code_hash == hash_invite_code(code)))
    if invite is None:
        if guesser is not None:
            await record_wrong_code(session, guesser.telegram_user_id, guesser.secret, now)
        return InviteCheck(InviteStatus.UNKNOWN)
    if invite.revoked_at is not None:
        return InviteCheck(InviteStatus.REVOKED, invite)
    if invite.expires_at is not None and invite.expires_at <= now:
        return InviteCheck(InviteStatus.EXPIRED, invite)
    if invite.max_uses is not None and invite.uses >= invite.max_uses:
        return InviteCheck(InviteStatus.USED_UP, invite)
    return InviteCheck(InviteStatus.OK, invite)


# -- redeeming ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Newcomer:
    """Who opened the link, as Telegram and their choices in the chat tell it."""

    telegram_user_id: int
    chat_id: int
    locale: str
    telegram_language_code: str | None = None
    display_name: str | None = None
    # The language was chosen in this very flow, so it replaces a known person's choice.
    chose_locale: bool = False


@dataclass(frozen=True)
class Granted:
    """What the role's own step made, for the audit row."""

    subject: str  # a study ID or "coordinator:<grant id>", never a name
    details: dict[str, Any] = field(default_factory=dict)
    made_id: int | None = None  # the membership or grant, for the caller (not audited)


class Admission(Protocol):
    """The part of redeeming that differs by role: who is refused, and what is made."""

    role: InviteRole
    consent_version: str

    async def refusal(
        self, session: AsyncSession, invite: Invite, person: Person | None
    ) -> str | None:
        """Why this person cannot use the invite (nothing is stored then), or None."""
        ...

    async def admit(
        self, session: AsyncSession, invite: Invite, person: Person, now: datetime
    ) -> Granted:
        """Make the membership or grant; the invite's use is already counted."""
        ...


WRONG_ROLE = "wrong_role"


@dataclass(frozen=True)
class Redemption:
    """How redeeming went. ``granted`` is set only when the invite was used."""

    status: InviteStatus
    invite: Invite | None = None
    refusal: str | None = None  # the admission's reason, or WRONG_ROLE
    person: Person | None = None
    granted: Granted | None = None

    @property
    def redeemed(self) -> bool:
        return self.granted is not None


async def redeem_invite(
    session: AsyncSession, code: str, admission: Admission, newcomer: Newcomer, now: datetime,
    *, throttle_secret: bytes,
) -> Redemption:
    """Check the code, count the use, find or make the person, record consent and the role,
    and write the audit row — all in the caller's transaction, or nothing.

    The use is counted by one conditional UPDATE before anything else is written. When several
    people redeem the last use at once, PostgreSQL makes the others wait for the row and then
    finds the invite used up; SQLite's write transactions run one at a time anyway. A refusal
    or a lost race stores nothing, not even the person.
    """
    check = await check_invite(session, code, now,
                               guesser=Guesser(newcomer.telegram_user_id, throttle_secret))
    invite = check.invite
    if not check.ok or invite is None:
        return Redemption(check.status, invite)
    if invite.role is not admission.role:
        return Redemption(check.status, invite, refusal=WRONG_ROLE)
    person = await queries.get_person_by_telegram_id(session, newcomer.telegram_user_id)
    refusal = await admission.refusal(session, invite, person)
    if refusal is not None:
        return Redemption(check.status, invite, refusal=refusal, person=person)
    if not await _count_use(session, invite.id, now):
        return Redemption(InviteStatus.USED_UP, invite)  # taken a moment ago by someone else
    person = await _person(session, person, newcomer, now)
    session.add(Consent(person_id=person.id, version=admission.consent_version, given=True,
                        at=now))
    granted = await admission.admit(session, invite, person, now)
    session.add(AuditLog(at=now, actor=f"invite:{invite.id}", action="role.grant",
                         subject=granted.subject, details=granted.details))
    return Redemption(InviteStatus.OK, invite, person=person, granted=granted)


async def _count_use(session: AsyncSession, invite_id: int, now: datetime) -> bool:
    """One use more, if the invite still allows one; False if it does not (any more)."""
    used = await session.scalar(
        update(Invite)
        .where(Invite.id == invite_id, Invite.revoked_at.is_(None),
               or_(Invite.expires_at.is_(None), Invite.expires_at > now),
               or_(Invite.max_uses.is_(None), Invite.uses < Invite.max_uses))
        .values(uses=Invite.uses + 1)
        .returning(Invite.id)
        .execution_options(synchronize_session=False)
    )
    return used is not None


async def _person(
    session: AsyncSession, person: Person | None, newcomer: Newcomer, now: datetime
) -> Person:
    if person is None:
        person = Person(telegram_user_id=newcomer.telegram_user_id, chat_id=newcomer.chat_id,
                        locale=newcomer.locale,
                        telegram_language_code=newcomer.telegram_language_code,
                        display_name=newcomer.display_name, created_at=now)
        session.add(person)
    else:
        person.chat_id = newcomer.chat_id
        if newcomer.chose_locale:
            person.locale = newcomer.locale
            person.telegram_language_code = newcomer.telegram_language_code
    await session.flush()
    return person


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
