"""What a coordinator does in chat: teams, summaries, invite links and their revocation.

Every use-case here takes the coordinator's granted municipalities as loaded for this update
and owns its transaction; a team or invite outside those municipalities is refused like a
stranger's (``None`` / :attr:`Revoked.REFUSED`), so the handler only picks the screen.
"""

from __future__ import annotations

import enum
import io
from dataclasses import dataclass
from datetime import datetime

from babel.lists import format_list
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from dialogs.callbacks import INT, TEXT, Action, callback
from dialogs.invites import DEFAULT_PARTICIPANT_VALIDITY, create_invite, revoke_invite
from dialogs.screen import Button, Screen, escape
from dialogs.team_summary import TeamSummary, team_summary
from locales.i18n import Tr
from storage.models import Invite, InviteRole, Municipality, Team

ACCEPT = Action("ca", TEXT)  # ca:<invite code>   accept a coordinator invite
DECLINE = Action("cn")  # cn                     no thanks
SUMMARY = Action("cs", INT)  # cs:<team id>      the team's summary and chart
INVITE = Action("ci", INT)  # ci:<team id>       a new participant invite link
REVOKE = Action("cr", INT)  # cr:<invite id>     revoke that link
ACTIONS = (ACCEPT, DECLINE, SUMMARY, INVITE, REVOKE)

Sessions = async_sessionmaker[AsyncSession]


@dataclass(frozen=True)
class TeamChoice:
    id: int
    name: str


@dataclass(frozen=True)
class TeamInvite:
    team_name: str
    invite_id: int
    code: str


class Revoked(enum.Enum):
    REVOKED = "revoked"
    ALREADY = "already"
    REFUSED = "refused"  # not an invite of the coordinator's municipalities


def _actor(person_id: int | None) -> str:
    return f"coordinator:{person_id}"


async def _own_team(session: AsyncSession, municipality_ids: frozenset[int],
                    team_id: int) -> Team | None:
    team = await session.get(Team, team_id)
    return team if team is not None and team.municipality_id in municipality_ids else None


# -- use-cases ---------------------------------------------------------------------------------


async def teams(sessions: Sessions, municipality_ids: frozenset[int]) -> list[TeamChoice]:
    async with sessions() as session:
        return [TeamChoice(team.id, team.name) for team in await session.scalars(
            select(Team).where(Team.municipality_id.in_(municipality_ids)).order_by(Team.name)
        )]


async def municipality_names(sessions: Sessions, municipality_ids: frozenset[int]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(
            select(Municipality.name).where(Municipality.id.in_(municipality_ids))
            .order_by(Municipality.name)
        ))


async def summary(
    sessions: Sessions, municipality_ids: frozenset[int], team_id: int
) -> TeamSummary | None:
    async with sessions() as session:
        if await _own_team(session, municipality_ids, team_id) is None:
            return None
        return await team_summary(session, team_id)


async def invite(
    sessions: Sessions, municipality_ids: frozenset[int], team_id: int, *,
    person_id: int | None, now: datetime,
) -> TeamInvite | None:
    """A new participant invite for one of the coordinator's teams, audit-logged."""
    async with sessions.begin() as session:
        team = await _own_team(session, municipality_ids, team_id)
        if team is None:
            return None
        new = await create_invite(session, team=team, role=InviteRole.PARTICIPANT, now=now,
                                  created_by=_actor(person_id))
        return TeamInvite(team.name, new.invite.id, new.code)


async def revoke(
    sessions: Sessions, municipality_ids: frozenset[int], invite_id: int, *,
    person_id: int | None, now: datetime,
) -> Revoked:
    async with sessions.begin() as session:
        found = await session.get(Invite, invite_id)
        if found is None or found.municipality_id not in municipality_ids:
            return Revoked.REFUSED
        done = await revoke_invite(session, invite_id, now=now, actor=_actor(person_id))
        return Revoked.REVOKED if done else Revoked.ALREADY


def invite_qr_png(link: str) -> bytes:
    """The link as a QR code, big enough to print on a poster."""
    import segno  # only when a coordinator makes an invite: not in every worker's memory

    buffer = io.BytesIO()
    segno.make(link, error="h").save(buffer, kind="png", scale=10, border=4)
    return buffer.getvalue()


# -- screens -----------------------------------------------------------------------------------


def refusal_screen(tr: Tr) -> Screen:
    return Screen.of(tr._(
        "This is for course coordinators, and you do not have access to it. "
        "Type /help to see what you can do."
    ))


def invitation_screen(tr: Tr, code: str) -> Screen:
    """/start with a coordinator invite: what is stored, then accept or decline."""
    return Screen.of(
        "\n\n".join((
            tr._("<b>You are invited as a coordinator</b>"),
            tr._("Coordinators create teams, make invite links and get pseudonymised exports "
                 "for their municipality. I store your Telegram account, your name and your "
                 "role. You can delete this with /delete."),
        )),
        [Button(tr._("Accept"), callback(ACCEPT, code))],
        [Button(tr._("No, thank you"), callback(DECLINE))],
    )


def welcome_screen(tr: Tr, municipality_name: str) -> Screen:
    return Screen.of(tr._(
        "You are now coordinator for {municipality}. Type /teams to see its teams.",
        municipality=escape(municipality_name),
    ))


def teams_screen(tr: Tr, choices: list[TeamChoice]) -> Screen:
    if not choices:
        return Screen.of(tr._("There are no teams in your municipalities yet."))
    rows = [
        [Button(team.name, callback(SUMMARY, team.id)),
         Button(tr._("Invite link"), callback(INVITE, team.id))]
        for team in choices
    ]
    return Screen.of(tr._("<b>Your teams</b>\nChoose a team for its summary or an invite link."),
                     *rows)


def invite_caption(tr: Tr, made: TeamInvite, link: str) -> str:
    """The words under the invite's QR code."""
    return tr._("Invite link for participants of {team}:\n{link}",
                team=escape(made.team_name), link=link)


def invite_made_screen(tr: Tr, made: TeamInvite) -> Screen:
    return Screen.of(
        tr._("The link works for {days} days.", days=DEFAULT_PARTICIPANT_VALIDITY.days),
        [Button(tr._("Revoke this link"), callback(REVOKE, made.invite_id))],
    )


def revoked_screen(tr: Tr, revoked: Revoked) -> Screen:
    if revoked is Revoked.REVOKED:
        return Screen.of(tr._("The link is revoked and no longer works."))
    return Screen.of(tr._("The link was already revoked."))


def export_started_screen(tr: Tr, municipalities: list[str]) -> Screen:
    return Screen.of(tr._(
        "I am preparing the export for {municipalities}. It contains study IDs only, "
        "never names. This can take a minute.", municipalities=_names(tr, municipalities),
    ))


def export_ready_screen(tr: Tr, parts: int, municipalities: list[str]) -> Screen:
    return Screen.of(tr.n_(
        "The export of {municipalities} is ready: {n} file. The codebook explains every "
        "column.",
        "The export of {municipalities} is ready: {n} files. The codebook explains every "
        "column.",
        parts, municipalities=_names(tr, municipalities),
    ))


def _names(tr: Tr, names: list[str]) -> str:
    return format_list([escape(name) for name in names], locale=tr.babel_locale)


def unused_words_screen(tr: Tr, command: str, words: list[str]) -> Screen:
    """A coordinator command takes no words after it: say so rather than quietly ignore them
    (``/export Roskilde`` from Køge would otherwise look like an export of Roskilde)."""
    return Screen.of(tr._(
        "/{command} does not use “{words}”, so I leave it out and show what /{command} "
        "always shows: everything for your own municipalities.",
        command=command, words=escape(" ".join(words)),
    ))
