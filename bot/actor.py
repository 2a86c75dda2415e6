"""The first handler group: who is acting, in which roles, in which language.

Runs before every dialog handler, so each handler finds ``context.actor`` loaded from storage
— never from process memory — and any worker can answer any update.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Update
from telegram.constants import ChatType

from bot import turn
from bot.context import Actor, BotContext
from dialogs.course import Participation
from dialogs.delivery import events
from locales.i18n import negotiate_locale
from storage.models import CoordinatorGrant, Membership, MembershipStatus, Person, Role, Team
from storage.quick import PlainQuery


@dataclass(frozen=True)
class ActorRecord:
    person_id: int | None
    display_name: str | None
    chosen_locale: str | None
    team_language: str | None
    participant_team_ids: frozenset[int]
    instructor_team_ids: frozenset[int]
    coordinator_municipality_ids: frozenset[int]
    unreachable: bool = False
    participation: Participation | None = None


@cache
def _actor_query() -> PlainQuery:
    """Built once: building a statement costs more than running this one (storage/quick.py
    keeps its compiled form)."""
    return PlainQuery(
        select(Person.id, Person.display_name, Person.locale, Person.unreachable_at,
               Membership.id.label("membership_id"), Membership.role, Membership.team_id,
               Membership.joined_at, Team.language, Team.name, Team.timezone,
               Team.webinar_url, CoordinatorGrant.municipality_id)
        .outerjoin(Membership, and_(Membership.person_id == Person.id,
                                    Membership.status == MembershipStatus.ACTIVE))
        .outerjoin(Team, Team.id == Membership.team_id)
        .outerjoin(CoordinatorGrant, and_(CoordinatorGrant.person_id == Person.id,
                                          CoordinatorGrant.revoked_at.is_(None)))
        .where(Person.telegram_user_id == bindparam("telegram_user_id"))
        .order_by(Membership.joined_at, Membership.id)
    )


async def load_actor_record(session: AsyncSession, telegram_user_id: int) -> ActorRecord:
    """The person, their active memberships with their teams, and their grants: one plain
    query, as this runs for every update. (A row for each membership and grant pair: people
    have a handful of either at most.)"""
    # Plain rows: the columns need none of the ORM's (nor, on SQLite, Core's) machinery.
    rows = await _actor_query().rows(session, {"telegram_user_id": telegram_user_id})
    if not rows:
        return ActorRecord(None, None, None, None, frozenset(), frozenset(), frozenset())
    person = rows[0]
    participant = [r for r in rows if r.role == Role.PARTICIPANT]
    # One team at a time; were there two, the course is the newest's (course.py's rule).
    latest = participant[-1] if participant else None
    return ActorRecord(
        person_id=person.id,
        display_name=person.display_name,
        chosen_locale=person.locale,
        team_language=participant[0].language if participant else None,
        participant_team_ids=frozenset(r.team_id for r in participant),
        instructor_team_ids=frozenset(r.team_id for r in rows if r.role == Role.INSTRUCTOR),
        coordinator_municipality_ids=frozenset(
            r.municipality_id for r in rows if r.municipality_id is not None),
        unreachable=person.unreachable_at is not None,
        participation=None if latest is None else Participation(
            latest.membership_id, latest.joined_at, latest.team_id, latest.name,
            latest.timezone, latest.webinar_url),
    )


async def load_actor(update: Update, context: BotContext) -> None:
    user = update.effective_user
    chat = update.effective_chat
    if user is None:
        context.actor = None
        return
    services = context.services
    # The update's read session: the handler that runs next reads on in it (bot/turn.py).
    async with turn.reading(services.sessions) as session:
        record = await load_actor_record(session, user.id)
    if record.unreachable and record.person_id is not None and _writes(update):
        # They blocked the bot once and are writing again: deliver to them again.
        async with services.sessions.begin() as session:
            await events.person_returned(session, record.person_id, services.clock.now(),
                                        services.delivery)
    locale = negotiate_locale(
        chosen=record.chosen_locale,
        telegram_language_code=user.language_code,
        team_language=record.team_language,
        default=services.settings.default_locale,
    )
    context.actor = acting = Actor(
        telegram_user_id=user.id,
        chat_id=chat.id if chat is not None else user.id,
        person_id=record.person_id,
        display_name=record.display_name,
        tr=services.catalogs.tr(locale),
        participant_team_ids=record.participant_team_ids,
        instructor_team_ids=record.instructor_team_ids,
        coordinator_municipality_ids=record.coordinator_municipality_ids,
        participation=record.participation,
    )
    current = turn.current()
    if current is not None:
        current.actor = acting  # for the error handler, whose context is a fresh one


def _writes(update: Update) -> bool:
    """The person did something in their chat with the bot (not Telegram telling us about the
    chat, and not in a group)."""
    chat = update.effective_chat
    return chat is not None and chat.type == ChatType.PRIVATE and (
        update.message is not None or update.callback_query is not None)
